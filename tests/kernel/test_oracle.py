"""libbpf oracle: bpftool (libbpf) and pybpf load the same objects; the kernel's translated
instructions must be identical, modulo map ids."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

import pybpf
from pybpf import insn as I
from pybpf.sys import bpf as sysbpf
from tests.conftest import OBJ_DIR

pytestmark = pytest.mark.kernel

# Objects that are wrong on purpose, or that libbpf cannot load without a target
EXCLUDE = ("bad_",)


TOOL_DIR = OBJ_DIR.parent


def _objects() -> list[str]:
    """Test objects by name, tool objects as ``tools/<name>``."""
    tests = [p.name[:-len(".bpf.o")] for p in OBJ_DIR.glob("*.bpf.o") if not p.name.startswith(EXCLUDE)]
    tools = [f"tools/{p.name[:-len('.bpf.o')]}" for p in TOOL_DIR.glob("*.bpf.o")]
    return sorted(tests) + sorted(tools)


def _object_file(name: str) -> str:
    if name.startswith("tools/"):
        return str(TOOL_DIR / f"{name[6:]}.bpf.o")
    return str(OBJ_DIR / f"{name}.bpf.o")


def _normalize(xlated: bytes) -> bytes:
    """Zero the map id in ld_imm64 map references (pseudo map fd / map value)."""
    buf = bytearray(xlated)
    n = len(buf) // 8
    i = 0
    while i < n:
        ins = I.decode(buf, i)
        if ins.code == I.LD_IMM64:
            if ins.src in (1, 2, 5, 6):
                I.set_imm(buf, i, 0)
            i += 2
            continue
        i += 1
    return bytes(buf)


def _bpftool_xlated(obj: str, pin_dir: str) -> dict[str, bytes] | None:
    r = subprocess.run(["bpftool", "prog", "loadall", obj, pin_dir], capture_output=True, text=True)
    if r.returncode != 0:
        lines = [ln.strip() for ln in r.stderr.splitlines()
                 if ln.startswith("libbpf:") and any(w in ln for w in ("fail", "not supported"))]
        _bpftool_xlated.last_error = lines[0] if lines else r.stderr.strip()[-200:]  # type: ignore[attr-defined]
        return None
    out = {}
    for name in os.listdir(pin_dir):
        info = json.loads(subprocess.run(["bpftool", "-j", "prog", "show", "pinned",
                                          os.path.join(pin_dir, name)],
                                         capture_output=True, text=True, check=True).stdout)
        fd = sysbpf.get_fd_by_id("prog", info["id"])
        try:
            n = sysbpf.obj_info(int(fd), "bpf_prog_info").xlated_prog_len
            full = sysbpf.obj_info(int(fd), "bpf_prog_info",
                                   {"xlated_prog_insns": ("xlated_prog_len", n, "uint8_t")})
            out[info.get("name", name)] = bytes(full.buffers[0][0:full.xlated_prog_len])
        finally:
            fd.close()
    return out


@pytest.mark.skipif(shutil.which("bpftool") is None, reason="bpftool (Debian package) not installed")
@pytest.mark.parametrize("name", _objects())
def test_xlated_identical_to_libbpf(name: str, tmp_path):
    from pybpf.attach.tracefs import ensure_bpffs
    ensure_bpffs()
    path = _object_file(name)
    pin_dir = f"/sys/fs/bpf/pybpf_oracle_{os.getpid()}_{name.replace('/', '_')}"
    # maps pinned by name go to the default root (libbpf and pybpf alike): remove them after
    pinned = [f"/sys/fs/bpf/{m.name}" for m in pybpf.ObjectSpec.from_file(path).maps.values()
              if m.pinning]
    try:
        ref = _bpftool_xlated(path, pin_dir)
        if ref is not None:
            for p in pinned:
                if os.path.exists(p):
                    os.unlink(p)
            _compare(name, path, ref)
    finally:
        shutil.rmtree(pin_dir, ignore_errors=True)
        for p in pinned:
            if os.path.exists(p):
                os.unlink(p)
    if ref is None:
        why = getattr(_bpftool_xlated, "last_error", "")
        pytest.skip(f"libbpf (bpftool 7.1) cannot load {name} on this kernel ({why}): "
                    f"nothing to compare")


def _compare(name: str, path: str, ref: dict[str, bytes]) -> None:
    with pybpf.load(path) as obj:
        assert obj.programs, name
        compared = 0
        for pname, prog in obj.programs.items():
            # bpftool names programs from BTF (whole), or the kernel's 15-char name
            kname = pname if pname in ref else pname[:15]
            assert kname in ref, f"bpftool did not load {pname}"
            assert _normalize(prog.xlated()) == _normalize(ref[kname]), (
                f"{name}:{pname}: xlated instructions differ from libbpf's")
            compared += 1
        assert compared == len(ref)
