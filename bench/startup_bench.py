"""Start-up of `pybpf opensnoop` to "attached and ready" against libbpf-tools' C opensnoop,
measured side by side in the same run (medians of 7).

Ready = the header line is printed (both tools print it once every program is attached);
wall time stops when the parent reads that line, not at exit (detach is not start-up).
Cold: empty cache directory (no BTF index, no CO-RE results); warm: cache filled. The
kernel work before ready is short (every bpf() and perf_event_open() call under 1 ms here);
the exit after it is not (each tracepoint perf event closed waits for RCU grace periods,
~70 ms, for both tools), hence the stop at the line. The CPU time each process spent until
ready is reported too: on a loaded VM wall time also counts waiting for a CPU. Python
children run with bytecode cached, as an installed package has it (this sandbox sets
PYTHONDONTWRITEBYTECODE).
"""

from __future__ import annotations

import os
import pty
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = os.path.realpath(sys.executable)
PEER = shutil.which("opensnoop", path="/usr/sbin:/usr/bin") or ""   # Debian: libbpf-tools
PYCACHE = tempfile.mkdtemp(prefix="pybpf-bench-pyc-")
CHILD = """
import io, os, resource, sys
from pybpf.tools import opensnoop
def ready():
    r = resource.getrusage(resource.RUSAGE_SELF)
    sys.stdout.write(f"READY {r.ru_maxrss} {(r.ru_utime + r.ru_stime) * 1000}\\n")
    sys.stdout.flush(); os._exit(0)
opensnoop.run(["-d", "5"], out=io.StringIO(), ready=ready)
"""


def env(extra: dict[str, str]) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**e, "PYTHONPATH": str(ROOT), "PYTHONPYCACHEPREFIX": PYCACHE, **extra}


def ours(extra: dict[str, str], code: str = CHILD) -> tuple[float, int, float]:
    """(wall ms to ready, peak RSS MB, CPU ms to ready).

    Wall time stops when the READY line arrives, as for the peer's header line: the exit
    that follows (closing tracepoint perf events waits for RCU grace periods, ~70 ms each
    here) is detach, which neither tool's figure includes."""
    t = time.perf_counter()
    p = subprocess.Popen([PY, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True, cwd=ROOT, env=env(extra))
    assert p.stdout is not None
    out = p.stdout.readline()
    dt = (time.perf_counter() - t) * 1000
    p.stdout.close()
    p.wait()
    if not out.startswith("READY"):
        raise SystemExit(f"pybpf opensnoop did not get ready: {out!r}")
    _, rss, cpu = out.split()
    return dt, int(rss) // 1024, float(cpu)


def peer() -> tuple[float, int, float]:
    """The C tool: wall ms to its header line, peak RSS MB and CPU ms (until it exits on
    SIGINT right after: detach adds little CPU).

    Its stdout is a pty, as in a terminal: on a pipe, stdio buffers the header until 4 KB of
    events have followed it, which measured the machine's open() rate (0.1 s on a busy VM,
    seconds to minutes on an idle one), not start-up."""
    master, slave = pty.openpty()
    t = time.perf_counter()
    p = subprocess.Popen([PEER], stdout=slave, stderr=subprocess.DEVNULL)
    os.close(slave)
    buf = b""
    try:
        while b"\n" not in buf:
            chunk = os.read(master, 4096)
            if not chunk:
                raise SystemExit("libbpf-tools opensnoop exited before its header")
            buf += chunk
        dt = (time.perf_counter() - t) * 1000
    finally:
        p.send_signal(signal.SIGINT)
        _, _, ru = os.wait4(p.pid, 0)
        p.returncode = 0
        os.close(master)
    return dt, ru.ru_maxrss // 1024, (ru.ru_utime + ru.ru_stime) * 1000


def med(xs: list[tuple[float, int, float]], i: int) -> float:
    return statistics.median(x[i] for x in xs)


def main() -> int:
    n = 7
    subprocess.run([PY, "-c", "import pybpf.tools.opensnoop, pybpf.loader, pybpf.elf"],
                   cwd=ROOT, env=env({}), check=True)                     # bytecode
    bare = statistics.median(ours({}, "import os,resource;r=resource.getrusage(0);print('READY',"
                                      "r.ru_maxrss,(r.ru_utime+r.ru_stime)*1000)")[0]
                             for _ in range(n))
    with tempfile.TemporaryDirectory() as d:
        cold, warm, c = [], [], []
        ours({"XDG_CACHE_HOME": d})
        for _ in range(n):      # interleaved, so load changes hit every series alike
            cold.append(ours({"XDG_CACHE_HOME": tempfile.mkdtemp(dir=d)}))
            warm.append(ours({"XDG_CACHE_HOME": d}))
            if PEER:
                c.append(peer())
    print(f"load: {os.getloadavg()[0]:.1f} (1-min average), {os.cpu_count()} CPUs; "
          f"bare {PY}: {bare:.0f} ms")
    for name, xs in (("cold", cold), ("warm", warm)):
        line = (f"pybpf opensnoop ready, {name}: {med(xs, 0):.0f} ms wall, {med(xs, 2):.0f} ms CPU, "
                f"peak RSS {max(x[1] for x in xs)} MB")
        if c:
            line += (f" | libbpf-tools opensnoop {med(c, 0):.0f} ms wall, {med(c, 2):.0f} ms CPU, "
                     f"{max(x[1] for x in c)} MB | ratio wall {med(xs, 0) / med(c, 0):.2f}x, "
                     f"CPU {med(xs, 2) / med(c, 2):.2f}x (budget {'3' if name == 'cold' else '2'}x)")
        print(line)
    if not c:
        print("libbpf-tools' opensnoop not found (apt-get install libbpf-tools): no peer")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
