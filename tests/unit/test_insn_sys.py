"""Instruction codec, disassembler, cffi layouts and errors (no kernel)."""

from __future__ import annotations

import errno
import subprocess
import sys

from pybpf import insn as I
from pybpf.errors import BPFPermissionError, SyscallError
from pybpf.sys.bpf import raise_errno
from pybpf.sys.cdefs import ffi
from pybpf.sys.cpus import parse_cpu_list


def test_insn_roundtrip_and_disasm():
    buf = bytearray(I.Insn(0xB7, 0, 0, 0, 7).encode() + I.Insn(0x95, 0, 0, 0, 0).encode())
    assert I.decode(buf, 0) == I.Insn(0xB7, 0, 0, 0, 7)
    I.set_imm(buf, 0, -1)
    assert I.decode(buf, 0).imm == -1
    assert I.disassemble(buf) == ["0: r0 = -1", "1: exit"]
    ld = bytearray(I.Insn(0x18, 1, 0, 0, 0).encode() + bytes(8))
    I.set_ld_imm64(ld, 0, 0x1122334455667788)
    I.set_src(ld, 0, 2)
    assert I.disassemble(ld) == ["0: r1 = 0x1122334455667788 map_value ll"]


def test_layout_offsets_match_uapi():
    # offsets from include/uapi/linux/bpf.h and perf_event.h
    assert ffi.offsetof("struct attr_map_create", "map_extra") == 64
    assert ffi.offsetof("struct attr_prog_load", "fd_array") == 120
    assert ffi.offsetof("struct attr_prog_load", "log_true_size") == 140
    assert ffi.offsetof("struct attr_link_create", "tracing") == 16
    assert ffi.offsetof("struct bpf_prog_info", "attach_btf_id") == 224
    assert ffi.sizeof("struct perf_event_attr") == 136
    assert ffi.offsetof("struct perf_event_attr", "config1") == 56


def test_errno_hints():
    try:
        raise_errno("load program x", errno.EPERM)
    except BPFPermissionError as e:
        assert "CAP_BPF" in str(e) and e.errno == errno.EPERM
    try:
        raise_errno("create map y", errno.E2BIG)
    except SyscallError as e:
        assert "create map y" in str(e) and "kernel too old" in str(e)


def test_cpu_list():
    assert parse_cpu_list("0-3,5,7-8\n") == [0, 1, 2, 3, 5, 7, 8]
    assert parse_cpu_list("0") == [0]


def test_import_is_fast_and_lazy():
    code = ("import time,sys; t=time.perf_counter(); import pybpf; "
            "d=time.perf_counter()-t; print(d); print('elftools' in sys.modules, 'cffi' in sys.modules)")
    best = min(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    check=True).stdout.split()[0]) for _ in range(3))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.split()
    assert best < 0.050, f"import pybpf took {best * 1000:.1f} ms"
    assert out[1:] == ["False", "False"]


def test_generated_cffi_module_matches_declarations(tmp_path):
    """pybpf/sys/_cffi_abi.py (committed) is what build_cffi.py makes from cdefs_src.CDEF."""
    from pathlib import Path

    from cffi import FFI

    from pybpf.sys.cdefs_src import CDEF
    ffi = FFI()
    ffi.cdef(CDEF)
    ffi.set_source("pybpf.sys._cffi_abi", None)
    out = tmp_path / "_cffi_abi.py"
    ffi.emit_python_code(str(out))
    committed = Path(__file__).resolve().parents[2] / "pybpf" / "sys" / "_cffi_abi.py"
    assert out.read_text() == committed.read_text(), "run `make cffi`"
