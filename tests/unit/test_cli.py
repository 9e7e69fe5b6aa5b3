"""`pybpf object info` on a test object (CO-RE part needs the kernel BTF, readable without root)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT, obj_path


def test_object_info():
    r = subprocess.run([sys.executable, "-m", "pybpf", "object", "info", obj_path("loader_basic")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "xdp_prog" in out and "type XDP" in out and "(+2 subprog)" in out
    assert "counts                   HASH" in out and "key __u32" in out
    assert "global .bss: last_msg (char[16]) at +8" in out
    assert "CO-RE relocations: 2" in out
    assert "field_byte_offset struct xdp_md.data_end (0:1) -> 4 (was 4)" in out


def test_object_info_bad_file(tmp_path):
    bad = tmp_path / "x.o"
    bad.write_bytes(b"garbage")
    r = subprocess.run([sys.executable, "-m", "pybpf", "object", "info", str(bad)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1
    assert "pybpf: error:" in r.stderr and "not an ELF" in r.stderr and "Traceback" not in r.stderr


def test_tools_listed_are_the_tools():
    from pybpf.cli import _tools
    assert _tools() == ["bashreadline", "biolatency", "biosnoop", "execsnoop", "ext4slower",
                        "funccount", "funclatency", "gethostlatency", "killsnoop", "opensnoop",
                        "profile", "runqlat", "syscount", "tcpaccept", "tcpconnect", "tcplife"]


def test_help_lists_each_tool_with_what_it_does():
    r = subprocess.run([sys.executable, "-m", "pybpf", "--help"], capture_output=True, text=True,
                       cwd=ROOT)
    assert r.returncode == 0
    assert "biolatency    block device I/O latency as a histogram" in r.stdout
    assert "tcpconnect    trace active TCP connections (connect())" in r.stdout
