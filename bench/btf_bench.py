"""BTF and CO-RE speed, each against its target or a peer measured in the same run (medians).

- kernel BTF load: cold (no index cache: scanned lazily, as far as the lookup goes) and warm
  (the disk index cache, saved once some process walked all of vmlinux), fresh interpreter each
- CO-RE: relocate every CO-RE record of a tool object against vmlinux, from a fresh process
- `pybpf btf dump` of vmlinux vs `bpftool btf dump file /sys/kernel/btf/vmlinux format c`,
  whole processes, pybpf as installed (bench/_installed.py)

Children run with bytecode cached (as an installed package has it): this sandbox sets
PYTHONDONTWRITEBYTECODE, which would otherwise recompile every module at every start.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _installed import PYBPF, install  # noqa: E402
from _installed import env as installed_env  # noqa: E402

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


CORE_CACHED = """
import time
t = time.perf_counter()
from pybpf.spec import ObjectSpec
from pybpf.btf.cache import CachedRelocator
from pybpf.btf.kernel import load_kernel
spec = ObjectSpec.from_file({obj!r})
rel = CachedRelocator(spec.btf, load_kernel)
n = 0
for sec, relos in spec.btf_ext.core_relos.items():
    code = bytearray(spec.section_code[sec])
    n += len(rel.relocate_section(code, relos, sec))
print((time.perf_counter() - t) * 1000, n, rel.hits)
"""


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPYCACHEPREFIX": PYCACHE, **extra}


PYCACHE = tempfile.mkdtemp(prefix="pybpf-bench-pyc-")


def run_py(code: str, env: dict[str, str]) -> list[str]:
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT, env=child_env(env)).stdout.split()
    return out


def median_ms(fn, n: int = 5) -> float:
    vals = []
    for _ in range(n):
        vals.append(fn())
    return statistics.median(vals)


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, cwd=ROOT,
                   env=child_env(env or {}))
    return (time.perf_counter() - t) * 1000


def timed_plain(cmd: list[str], env: dict[str, str]) -> float:
    """ms of ``cmd`` run with exactly ``env``."""
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, cwd=ROOT, env=env)
    return (time.perf_counter() - t) * 1000


def line(what: str, ours: float, peer: float, peer_name: str) -> str:
    return f"{what}: pybpf {ours:.1f} ms, {peer_name} {peer:.1f} ms, ratio {ours / peer:.2f}x"


def main() -> int:
    with tempfile.TemporaryDirectory() as cache:
        env = {"XDG_CACHE_HOME": cache, "PYTHONPATH": str(ROOT)}
        run_py("import pybpf.btf.kernel, pybpf.btf.core, pybpf.spec", env)   # bytecode
        bare = median_ms(lambda: timed([PY, "-c", "pass"]))
        cold = median_ms(lambda: float(run_py(LOAD.format(cache=False), env)[0]))
        # fill the index cache: a whole walk saves it (a lookup alone scans lazily)
        run_py("from pybpf.btf.kernel import load_kernel; print(load_kernel().count)", env)
        warm = median_ms(lambda: float(run_py(LOAD.format(cache=True), env)[0]))
        core_cold = median_ms(lambda: float(run_py(CORE.format(obj=str(OBJ)), {
            **env, "XDG_CACHE_HOME": tempfile.mkdtemp(dir=cache)})[0]))
        out = run_py(CORE.format(obj=str(OBJ)), env)
        core_warm = median_ms(lambda: float(run_py(CORE.format(obj=str(OBJ)), env)[0]))
        run_py(CORE_CACHED.format(obj=str(OBJ)), env)           # fill the result cache
        cached = [run_py(CORE_CACHED.format(obj=str(OBJ)), env) for _ in range(5)]
        assert all(int(c[2]) == int(c[1]) for c in cached), "CO-RE result cache missed"
        core_cached = statistics.median(float(c[0]) for c in cached)
        if shutil.which("bpftool"):
            install()                   # the dump runs as installed: bench/_installed.py
            dump = [str(PYBPF), "btf", "dump"]
            dump_env = installed_env({"XDG_CACHE_HOME": cache})
            subprocess.run(dump, stdout=subprocess.DEVNULL, check=True, env=dump_env)
            peer = median_ms(lambda: timed(["bpftool", "btf", "dump", "file",
                                            "/sys/kernel/btf/vmlinux", "format", "c"]), 7)
            ours = median_ms(lambda: timed_plain(dump, dump_env), 7)
    print(f"load: {os.getloadavg()[0]:.1f} (1-min average), {os.cpu_count()} CPUs")
    print(f"interpreter start-up (floor, not included below): {bare:.1f} ms")
    print(line("kernel BTF load + find, cold (no index cache), in-process incl. imports", cold,
               100, "target"))
    print(line("kernel BTF load + find, warm (index cache), in-process incl. imports", warm,
               20, "target"))
    print(line(f"CO-RE relocation of {OBJ.name} ({out[1]} relocations) against vmlinux, cold, "
               "in-process incl. imports and the ELF parse", core_cold, 100, "target"))
    print(f"  same, warm (index cache; the loader's result cache is not used here): "
          f"{core_warm:.1f} ms")
    print(line("CO-RE relocation, warm as the loader does it (CO-RE results replayed from the "
               "disk cache, no kernel BTF), in-process incl. imports and the ELF parse",
               core_cached, 20, "target"))
    if shutil.which("bpftool"):
        print(line("btf dump vmlinux (whole process)", ours, peer, "bpftool") + " (target 5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
