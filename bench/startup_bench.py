"""Start-up of `pybpf opensnoop` to "attached and ready" (wall time from spawn, medians of
5), cold (no BTF index cache) and warm, with peak RSS; the bare interpreter is the floor."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = os.path.realpath(sys.executable)
CHILD = """
import io, os, resource, sys
from pybpf.tools import opensnoop
def ready():
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stdout.write(f"READY {rss}\\n"); sys.stdout.flush(); os._exit(0)
opensnoop.run(["-d", "5"], out=io.StringIO(), ready=ready)
"""


def once(env: dict[str, str], code: str = CHILD) -> tuple[float, int]:
    t = time.perf_counter()
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT), **env}).stdout
    dt = (time.perf_counter() - t) * 1000
    rss = int(out.split()[1]) // 1024 if out.startswith("READY") else 0
    return dt, rss


def main() -> int:
    bare = statistics.median(once({}, "print('READY 0')")[0] for _ in range(5))
    with tempfile.TemporaryDirectory() as d:
        cold = [once({"XDG_CACHE_HOME": tempfile.mkdtemp(dir=d)}) for _ in range(5)]
        once({"XDG_CACHE_HOME": d})
        warm = [once({"XDG_CACHE_HOME": d}) for _ in range(5)]
    med = lambda xs: statistics.median(x[0] for x in xs)  # noqa: E731
    print(f"bare {PY}: {bare:.0f} ms")
    print(f"pybpf opensnoop ready, cold: {med(cold):.0f} ms ({med(cold) / bare:.1f}x bare python), "
          f"peak RSS {max(r for _, r in cold)} MB")
    print(f"pybpf opensnoop ready, warm: {med(warm):.0f} ms ({med(warm) / bare:.1f}x bare python), "
          f"peak RSS {max(r for _, r in warm)} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
