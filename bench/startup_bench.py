"""Start-up of `pybpf opensnoop` to "attached and ready" against libbpf-tools' C opensnoop,
measured side by side in the same run (medians of 11, interleaved).

pybpf runs as a user gets it: the real `pybpf` console script of a clean virtual
environment with this checkout installed (bench/_installed.py). The development
interpreter's figure is printed too.

Both tools run on a pty, as in a terminal (on a pipe, the C tool's stdio holds its header
back until 4 KB of events follow). Ready = the header line arrives (each tool prints it once
every program is attached); then SIGINT. Wall time stops at the header: exit is detach
(closing tracepoint perf events waits for RCU grace periods, ~70 ms, for both tools). CPU
time and peak RSS come from the exited process (rusage), for both alike.
Cold: an empty cache (no BTF index, no CO-RE results); warm: the cache filled.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _installed import PYBPF, PYTHON, env, install  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PY = os.path.realpath(sys.executable)
PEER = shutil.which("opensnoop", path="/usr/sbin:/usr/bin") or ""   # Debian: libbpf-tools
N = 11


def on_pty(cmd: list[str], extra: dict[str, str] | None = None) -> tuple[float, int, float]:
    """(wall ms to the first line, peak RSS MB, CPU ms) of ``cmd`` run on a pty."""
    master, slave = pty.openpty()
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=slave, stderr=subprocess.DEVNULL, cwd="/",
                         env=env(extra))
    os.close(slave)
    buf = b""
    try:
        while b"\n" not in buf:
            chunk = os.read(master, 4096)
            if not chunk:
                raise SystemExit(f"{cmd[0]} exited before its header")
            buf += chunk
        dt = (time.perf_counter() - t) * 1000
    finally:
        p.send_signal(signal.SIGINT)
        _, _, ru = os.wait4(p.pid, 0)
        p.returncode = 0
        os.close(master)
    return dt, ru.ru_maxrss // 1024, (ru.ru_utime + ru.ru_stime) * 1000


def bare(py: str) -> float:
    """Median ms of ``py -c pass`` (the interpreter's own floor)."""
    ts = []
    for _ in range(N):
        t = time.perf_counter()
        subprocess.run([py, "-c", "pass"], env=env({}), check=True)
        ts.append((time.perf_counter() - t) * 1000)
    return statistics.median(ts)


def med(xs: list[tuple[float, int, float]], i: int) -> float:
    return statistics.median(x[i] for x in xs)


def main() -> int:
    if os.geteuid() != 0:
        raise SystemExit("run as root (the tools load BPF programs)")
    install()
    tool, vpy = PYBPF, str(PYTHON)
    dev = [PY, "-m", "pybpf", "opensnoop"]
    with tempfile.TemporaryDirectory() as d:
        warm_env = {"XDG_CACHE_HOME": d}
        on_pty([str(tool), "opensnoop"], warm_env)                 # fill the cache
        cold, warm, devw, c = [], [], [], []
        for _ in range(N):      # interleaved, so load changes hit every series alike
            cold.append(on_pty([str(tool), "opensnoop"], {"XDG_CACHE_HOME": tempfile.mkdtemp(dir=d)}))
            warm.append(on_pty([str(tool), "opensnoop"], warm_env))
            devw.append(on_pty(dev, {**warm_env, "PYTHONPATH": str(ROOT)}))
            if PEER:
                c.append(on_pty([PEER]))
    print(f"load: {os.getloadavg()[0]:.1f} (1-min average), {os.cpu_count()} CPUs; "
          f"bare interpreter: {bare(vpy):.1f} ms in the venv, {bare(PY):.1f} ms as {PY} "
          f"(its .pth files)")
    for name, xs, budget in (("cold", cold, 3), ("warm", warm, 2)):
        line = (f"pybpf opensnoop ready, {name}: {med(xs, 0):.1f} ms wall, {med(xs, 2):.0f} ms "
                f"CPU, peak RSS {max(x[1] for x in xs)} MB")
        if c:
            line += (f" | libbpf-tools opensnoop {med(c, 0):.1f} ms wall, {med(c, 2):.0f} ms "
                     f"CPU, {max(x[1] for x in c)} MB | ratio wall {med(xs, 0) / med(c, 0):.2f}x,"
                     f" CPU {med(xs, 2) / med(c, 2):.2f}x (budget {budget}x)")
        print(line)
    print(f"warm, `python -m pybpf opensnoop` with the development interpreter: "
          f"{med(devw, 0):.1f} ms wall")
    if not c:
        print("libbpf-tools' opensnoop not found (apt-get install libbpf-tools): no peer")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
