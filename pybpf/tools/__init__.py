"""The bcc/bpftrace classics as `pybpf <tool>` commands, built on the public API."""

import os


def object_path(name: str) -> str:
    """Path of a tool object shipped in the package (pybpf/bpf/<name>.bpf.o).

    A plain path join: ``importlib.resources`` costs ~10 ms of imports at start-up."""
    return os.path.join(os.path.dirname(os.path.dirname(__file__)), "bpf", f"{name}.bpf.o")


def report_loop(interval: float, count: int, timestamp: bool, render, out,  # noqa: ANN001
                duration: float = 0, blank: bool = True) -> None:
    """bcc's loop of the summarizing tools: every ``interval`` seconds a blank line (unless
    not ``blank``), the time (``-T``) and ``render()``'s text; Ctrl-C (or SIGTERM, made one
    by the caller) prints once more and ends, and so do the ``count``-th report and the
    one that reaches ``duration`` seconds."""
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
        if blank:
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


def print_events(events, duration: float, line, out) -> None:  # noqa: ANN001
    """The tracing tools' loop: ``line(event)`` printed for each event of ``events`` (a
    ring or perf buffer; a line of None is left out) until Ctrl-C, SIGTERM or ``duration``
    seconds (0: no end)."""
    import signal
    import time

    deadline = time.monotonic() + duration if duration else None
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        while deadline is None or time.monotonic() < deadline:
            for e in events.poll(timeout=0.1):
                text = line(e)
                if text is not None:
                    print(text, file=out)
            out.flush()
    except KeyboardInterrupt:
        pass


def close_all(links) -> None:  # noqa: ANN001
    """Detach ``links``, last attached first."""
    for link in reversed(links):
        link.close()


def attach_all(makers) -> list:  # noqa: ANN001
    """The links ``makers`` (callables that attach one each) return; none stays attached
    if one fails."""
    links: list = []
    try:
        for make in makers:
            links.append(make())
    except BaseException:
        close_all(links)
        raise
    return links


def run_summary(name: str, rodata: dict, title: str, a, render_of, out, ready) -> int:  # noqa: ANN001
    """A histogram tool whose object attaches from its SEC names (runqlat, biolatency):
    load, attach, print ``title``, then ``report_loop`` over ``render_of(obj)`` with the
    options' ``interval``, ``count`` and ``timestamp``."""
    import signal

    import pybpf

    with pybpf.load(object_path(name), rodata=rodata) as obj:
        links = attach_all(p.attach for p in obj.programs.values())
        try:
            print(title, file=out, flush=True)
            if ready is not None:
                ready()
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            report_loop(a.interval, a.count, a.timestamp, render_of(obj), out)
        finally:
            close_all(links)
    return 0
