"""BTF and CO-RE speed, each against a peer measured in the same run (medians).

- kernel BTF load: cold (no index cache) and warm (disk index cache), fresh interpreter each
- CO-RE: relocate every CO-RE record of a tool object against vmlinux, from a fresh process
- `pybpf btf dump` of vmlinux vs `bpftool btf dump file /sys/kernel/btf/vmlinux format c`
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = os.path.realpath(sys.executable)
OBJ = ROOT / "pybpf" / "bpf" / "opensnoop.bpf.o"

LOAD = """
import time, sys
t = time.perf_counter()
from pybpf.btf.kernel import load_kernel
b = load_kernel(use_cache={cache})
b.find("task_struct")
print((time.perf_counter() - t) * 1000)
"""

CORE = """
import time
t = time.perf_counter()
from pybpf.spec import ObjectSpec
from pybpf.btf.kernel import load_kernel
from pybpf.btf.core import CoreRelocator
spec = ObjectSpec.from_file({obj!r})
rel = CoreRelocator(spec.btf, load_kernel())
n = 0
for sec, relos in spec.btf_ext.core_relos.items():
    code = bytearray(spec.section_code[sec])
    n += len(rel.relocate_section(code, relos, sec))
print((time.perf_counter() - t) * 1000, n)
"""


def run_py(code: str, env: dict[str, str]) -> list[str]:
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT, env={**os.environ, **env}).stdout.split()
    return out


def median_ms(fn, n: int = 5) -> float:
    vals = []
    for _ in range(n):
        vals.append(fn())
    return statistics.median(vals)


def timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, cwd=ROOT)
    return (time.perf_counter() - t) * 1000


def main() -> int:
    with tempfile.TemporaryDirectory() as cache:
        env = {"XDG_CACHE_HOME": cache, "PYTHONPATH": str(ROOT)}
        bare = median_ms(lambda: timed([PY, "-c", "pass"]))
        cold = median_ms(lambda: float(run_py(LOAD.format(cache=False), env)[0]))
        run_py(LOAD.format(cache=True), env)            # fill the cache
        warm = median_ms(lambda: float(run_py(LOAD.format(cache=True), env)[0]))
        core_cold = median_ms(lambda: float(run_py(CORE.format(obj=str(OBJ)), {
            **env, "XDG_CACHE_HOME": tempfile.mkdtemp(dir=cache)})[0]))
        out = run_py(CORE.format(obj=str(OBJ)), env)
        core_warm = median_ms(lambda: float(run_py(CORE.format(obj=str(OBJ)), env)[0]))
    print(f"interpreter start-up (peer floor): {bare:.1f} ms")
    print(f"kernel BTF load + find, cold (no index cache): {cold:.1f} ms (target 100 ms)")
    print(f"kernel BTF load + find, warm (index cache):    {warm:.1f} ms (target 20 ms)")
    print(f"CO-RE relocation of {OBJ.name} ({out[1]} relocations), in-process time incl. imports: "
          f"cold {core_cold:.1f} ms, warm {core_warm:.1f} ms")
    if shutil.which("bpftool"):
        peer = median_ms(lambda: timed(["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux",
                                        "format", "c"]), 3)
        ours = median_ms(lambda: timed([PY, "-m", "pybpf", "btf", "dump"]), 3)
        print(f"btf dump vmlinux: pybpf {ours:.0f} ms, bpftool {peer:.0f} ms, ratio {ours / peer:.1f}x "
              f"(target 5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
