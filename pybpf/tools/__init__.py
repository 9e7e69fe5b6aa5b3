"""The bcc/bpftrace classics as `pybpf <tool>` commands, built on the public API."""

import os


def object_path(name: str) -> str:
    """Path of a tool object shipped in the package (pybpf/bpf/<name>.bpf.o).

    A plain path join: ``importlib.resources`` costs ~10 ms of imports at start-up."""
    return os.path.join(os.path.dirname(os.path.dirname(__file__)), "bpf", f"{name}.bpf.o")


def report_loop(interval: float, count: int, timestamp: bool, render, out,  # noqa: ANN001
                duration: float = 0) -> None:
    """bcc's loop of the summarizing tools: every ``interval`` seconds a blank line, the
    time (``-T``) and ``render()``'s text; Ctrl-C (or SIGTERM, made one by the caller)
    prints once more and ends, and so do the ``count``-th report and the one that reaches
    ``duration`` seconds."""
    import signal
    import time

    seconds = 0.0
    while True:
        exiting = False
        try:
            time.sleep(interval)
            seconds += interval
        except KeyboardInterrupt:
            exiting = True
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        print(file=out)
        if timestamp:
            print(time.strftime("%H:%M:%S"), file=out)
        text = render()
        if text:
            print(text, file=out)
        out.flush()
        count -= 1
        if exiting or count == 0 or (duration and seconds >= duration):
            return
