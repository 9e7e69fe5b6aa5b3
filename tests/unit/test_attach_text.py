"""The exact text and attrs attach code produces (kprobe paths this host cannot run)."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess

import pytest

from pybpf.attach import explain_tracing_eperm, parse_target, split_offset
from pybpf.attach.kprobe import match_functions, parse_filter_functions
from pybpf.attach.net import (
    cls_bpf_msg,
    clsact_msg,
    filter_info,
    nlattr,
    nlattr_str,
    parse_attrs,
    parse_error,
    parse_messages,
    xdp_msg,
)
from pybpf.attach.perf_event import sample_plan
from pybpf.attach.probes import (
    GROUP,
    ProbeAttr,
    event_name,
    kprobe_line,
    kprobe_pmu_attr,
    parse_format_bit,
    parse_pybpf_events,
    remove_line,
    uprobe_line,
    uprobe_pmu_attr,
)
from pybpf.attach.uprobe import (
    ElfSymbols,
    Segment,
    elf_symbols,
    find_library,
    parse_ld_so_cache,
    symbol_offset,
)
from pybpf.attach.usdt import (
    ARG_CONST,
    ARG_REG,
    ARG_REG_DEREF,
    ARG_SIB,
    DEFAULT_LAYOUT,
    SpecLayout,
    UsdtArg,
    UsdtFile,
    UsdtNote,
    encode_spec,
    layout_from_btf,
    parse_arg,
    parse_args,
    parse_stapsdt_notes,
    site_of,
)
from pybpf.errors import AttachError
from tests.conftest import obj_path


@pytest.mark.parametrize("args,line", [
    (("ev", "do_sys_open"), "p:pybpf/ev do_sys_open"),
    (("ev", "do_sys_open", 16), "p:pybpf/ev do_sys_open+16"),
    (("ev", "vfs_read", 0, True), "r:pybpf/ev vfs_read"),
    (("ev", "vfs_read", 0, True, 64), "r64:pybpf/ev vfs_read"),
    (("ev", None, 0, False, 0, 0xffffffff81000000), "p:pybpf/ev 0xffffffff81000000"),
    (("ev", None, 8, False, 0, 0xffffffff81000000), "p:pybpf/ev 0xffffffff81000008"),
])
def test_kprobe_line(args, line):
    assert kprobe_line(*args) == line


def test_kprobe_line_maxactive_needs_retprobe():
    with pytest.raises(AttachError, match="maxactive applies to kretprobes only"):
        kprobe_line("ev", "vfs_read", maxactive=4)


@pytest.mark.parametrize("args,line", [
    (("ev", "/usr/bin/bash", 0x1234), "p:pybpf/ev /usr/bin/bash:0x1234"),
    (("ev", "/lib/libc.so.6", 0x9f0, True), "r:pybpf/ev /lib/libc.so.6:0x9f0"),
    (("ev", "/opt/app", 0x40, False, 0x3a8), "p:pybpf/ev /opt/app:0x40(0x3a8)"),
    (("ev", "/opt/app", 0, False), "p:pybpf/ev /opt/app:0x0"),
])
def test_uprobe_line(args, line):
    assert uprobe_line(*args) == line


def test_uprobe_line_rejects_whitespace_paths():
    with pytest.raises(AttachError, match="whitespace"):
        uprobe_line("ev", "/tmp/my app", 0)


def test_remove_line_and_event_names():
    assert remove_line("pybpf_12_3") == "-:pybpf/pybpf_12_3"
    a, b = event_name(), event_name()
    assert a.startswith(f"{GROUP}_{os.getpid()}_") and a != b
    assert event_name(pid=77).startswith("pybpf_77_")


def test_parse_pybpf_events_keeps_only_ours():
    text = ("p:pybpf/pybpf_123_0 /usr/bin/true:0x0000000000001040\n"
            "r:pybpf/pybpf_9_14 /lib/libc.so.6:0x00000000000a0f00\n"
            "p:uprobes/other /bin/true:0x10\n"
            "r16:pybpf/pybpf_55_2 vfs_read\n"
            "p:pybpfx/pybpf_1_1 foo\n")
    assert parse_pybpf_events(text) == [("pybpf_123_0", 123), ("pybpf_9_14", 9),
                                         ("pybpf_55_2", 55)]


@pytest.mark.parametrize("text,bit", [("config:0\n", 0), ("config:32-63", 32), ("config1:0-63", None),
                                      ("garbage", None)])
def test_parse_format_bit(text, bit):
    assert parse_format_bit(text) == bit


def test_kprobe_pmu_attr():
    assert kprobe_pmu_attr(8, 0, "vfs_read") == ProbeAttr(8, 0, b"vfs_read", 0)
    assert kprobe_pmu_attr(8, 0, "vfs_read", 4) == ProbeAttr(8, 0, b"vfs_read", 4)
    assert kprobe_pmu_attr(8, 0, "vfs_read", retprobe=True) == ProbeAttr(8, 1, b"vfs_read", 0)
    assert kprobe_pmu_attr(8, 3, None, 0, 0xffff0000, True) == ProbeAttr(8, 8, 0, 0xffff0000)
    with pytest.raises(AttachError, match="no retprobe format bit"):
        kprobe_pmu_attr(8, None, "f", retprobe=True)


def test_uprobe_pmu_attr():
    a = uprobe_pmu_attr(9, 0, 32, "/bin/true", 0x1040)
    assert a == ProbeAttr(9, 0, b"/bin/true", 0x1040, -1, 0)
    a = uprobe_pmu_attr(9, 0, 32, "/bin/true", 0x1040, retprobe=True, ref_ctr_offset=0x3a8, pid=42)
    assert a == ProbeAttr(9, 1 | (0x3a8 << 32), b"/bin/true", 0x1040, 42, -1)
    with pytest.raises(AttachError, match="no ref_ctr_offset"):
        uprobe_pmu_attr(9, 0, None, "/bin/true", 0, ref_ctr_offset=8)
    with pytest.raises(AttachError, match="does not fit"):
        uprobe_pmu_attr(9, 0, 32, "/bin/true", 0, ref_ctr_offset=1 << 32)


def ld_so_cache(entries: list[tuple[int, str, str]]) -> bytes:
    """A glibc "new format" ld.so.cache: 48-byte header, 24-byte entries, then strings."""
    strings = b""
    offs = []
    table_end = 48 + 24 * len(entries)
    for _flags, key, value in entries:
        k = table_end + len(strings)
        strings += key.encode() + b"\0"
        v = table_end + len(strings)
        strings += value.encode() + b"\0"
        offs.append((k, v))
    head = b"glibc-ld.so.cache1.1" + struct.pack("<IIB3xI12x", len(entries), len(strings), 2, 0)
    table = b"".join(struct.pack("<iIIIQ", f, k, v, 0, 0)
                     for (f, _, _), (k, v) in zip(entries, offs, strict=True))
    return head + table + strings


CACHE = ld_so_cache([
    (0x0303, "libssl.so.3", "/lib/x86_64-linux-gnu/libssl.so.3"),
    (0x0303, "libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"),
    (0x0003, "libc.so.6", "/lib/i386-linux-gnu/libc.so.6"),
    (0x0A03, "libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6"),
    (0x0303, "libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1"),
])


def test_parse_ld_so_cache_keeps_this_abi():
    assert parse_ld_so_cache(CACHE, "x86_64") == {
        "libssl.so.3": "/lib/x86_64-linux-gnu/libssl.so.3",
        "libc.so.6": "/lib/x86_64-linux-gnu/libc.so.6",
        "libz.so.1": "/lib/x86_64-linux-gnu/libz.so.1"}
    assert parse_ld_so_cache(CACHE, "aarch64") == {"libc.so.6": "/lib/aarch64-linux-gnu/libc.so.6"}


def test_parse_ld_so_cache_rejects_garbage():
    with pytest.raises(AttachError, match="ld.so.cache"):
        parse_ld_so_cache(b"not a cache at all" * 4)
    with pytest.raises(AttachError, match="truncated"):
        parse_ld_so_cache(CACHE[:60], "x86_64")


@pytest.mark.parametrize("name,path", [("c", "/lib/x86_64-linux-gnu/libc.so.6"),
                                       ("libc", "/lib/x86_64-linux-gnu/libc.so.6"),
                                       ("libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"),
                                       ("ssl", "/lib/x86_64-linux-gnu/libssl.so.3"),
                                       ("cc", None), ("s", None)])
def test_find_library(name, path):
    assert find_library(name, parse_ld_so_cache(CACHE, "x86_64")) == path


def test_vaddr_to_offset_and_versioned_lookup():
    segs = (Segment(0x0, 0x1000, 0x0, 0x1000, 4), Segment(0x401000, 0x2000, 0x1000, 0x2000, 5),
            Segment(0x404e10, 0x300, 0x3e10, 0x200, 6))
    syms = ElfSymbols("/x", False, segs, {"malloc": 0x401136}, {"malloc@@GLIBC_2.2.5": 0x401136,
                                                               "memcpy@GLIBC_2.2.5": 0x401200})
    assert syms.vaddr_to_offset(0x401136) == 0x1136
    assert syms.vaddr_to_offset(0x404e20, executable=False) == 0x3e20
    with pytest.raises(AttachError, match="not in a loadable segment"):
        syms.vaddr_to_offset(0x500000)
    assert syms.lookup("malloc") == syms.lookup("malloc@@GLIBC_2.2.5") == 0x401136
    assert syms.lookup("memcpy@GLIBC_2.2.5") == 0x401200
    with pytest.raises(AttachError, match="symbol 'mallok' not found in /x .*malloc"):
        syms.lookup("mallok")


@pytest.mark.parametrize("kind,target,args", [
    ("tracepoint", "syscalls/sys_enter_openat", {"category": "syscalls", "name": "sys_enter_openat"}),
    ("raw_tracepoint", "sched_switch", {"name": "sched_switch"}),
    ("kprobe", "do_unlinkat", {"symbol": "do_unlinkat", "offset": 0, "retprobe": False}),
    ("kprobe", "do_unlinkat+0x1a", {"symbol": "do_unlinkat", "offset": 0x1a, "retprobe": False}),
    ("kretprobe", "vfs_read", {"symbol": "vfs_read", "offset": 0, "retprobe": True}),
    ("uprobe", "/bin/bash:readline",
     {"path": "/bin/bash", "symbol": "readline", "offset": 0, "retprobe": False}),
    ("uprobe", "/bin/bash:readline+8",
     {"path": "/bin/bash", "symbol": "readline", "offset": 8, "retprobe": False}),
    ("uprobe", "libc.so.6:malloc",
     {"path": "libc.so.6", "symbol": "malloc", "offset": 0, "retprobe": False}),
    ("uretprobe", "//lib/x86_64-linux-gnu/libc.so.6:malloc",
     {"path": "//lib/x86_64-linux-gnu/libc.so.6", "symbol": "malloc", "offset": 0,
      "retprobe": True}),
    ("uretprobe", "/opt/app:+0x1040",
     {"path": "/opt/app", "symbol": None, "offset": 0x1040, "retprobe": True}),
    ("usdt", "./app:prov:probe", {"path": "./app", "provider": "prov", "name": "probe"}),
    ("usdt", "/usr/lib/libpython3.so:python:function__entry",
     {"path": "/usr/lib/libpython3.so", "provider": "python", "name": "function__entry"}),
    ("ksyscall", "openat", {"name": "openat", "retprobe": False}),
    ("kretsyscall", "openat", {"name": "openat", "retprobe": True}),
    ("kprobe_multi", "vfs_*", {"pattern": "vfs_*", "retprobe": False}),
    ("kretprobe_multi", "tcp_*", {"pattern": "tcp_*", "retprobe": True}),
])
def test_parse_target(kind, target, args):
    assert parse_target(kind, target) == args


@pytest.mark.parametrize("kind,target,form", [
    ("tracepoint", "sys_enter_openat", "tracepoint/<category>/<name>"),
    ("uprobe", "/bin/bash", "uprobe/<path>:<symbol>"),
    ("usdt", "/bin/app:probe", "usdt/<path>:<provider>:<name>"),
    ("kprobe", "+4", "kprobe/<function>"),
    ("raw_tracepoint", "", "raw_tp/<name>"),
    ("ksyscall", "", "ksyscall/<syscall>"),
])
def test_parse_target_errors(kind, target, form):
    with pytest.raises(AttachError, match=form.replace("[", r"\[")):
        parse_target(kind, target)


def test_split_offset():
    assert split_offset("f+16") == ("f", 16) and split_offset("f") == ("f", 0)
    with pytest.raises(AttachError, match="bad offset"):
        split_offset("f+x")


def test_filter_functions_and_globs():
    names = parse_filter_functions("vfs_read\nvfs_write\nvfs_read\nfoo_bar [mod]\n\n")
    assert names == ["foo_bar", "vfs_read", "vfs_write"]
    assert match_functions("vfs_*", names) == ["vfs_read", "vfs_write"]
    assert match_functions("vfs_rea?", names) == ["vfs_read"]
    assert match_functions("foo_bar", names) == ["foo_bar"]
    assert match_functions("nothing", names) == []


# ---- USDT: notes, argument specs, spec records ----

def stapsdt_note(provider: str, name: str, pc: int, base: int, sema: int, args: str,
                 owner: bytes = b"stapsdt", ntype: int = 3) -> bytes:
    desc = struct.pack("<QQQ", pc, base, sema) + f"{provider}\0{name}\0{args}\0".encode()
    pad = lambda b: b + bytes(-len(b) % 4)  # noqa: E731
    return struct.pack("<III", len(owner) + 1, len(desc), ntype) + pad(owner + b"\0") + pad(desc)


def test_parse_stapsdt_notes():
    data = (stapsdt_note("app", "req", 0x1139, 0x2004, 0x4010, "-4@%edi 8@-8(%rbp)")
            + stapsdt_note("x", "y", 1, 2, 3, "", owner=b"GNU")          # not ours: skipped
            + stapsdt_note("app", "done", 0x1150, 0x2004, 0, ""))
    assert parse_stapsdt_notes(data) == [
        UsdtNote("app", "req", 0x1139, 0x2004, 0x4010, "-4@%edi 8@-8(%rbp)"),
        UsdtNote("app", "done", 0x1150, 0x2004, 0, "")]
    with pytest.raises(AttachError, match="truncated"):
        parse_stapsdt_notes(data[:30])


@pytest.mark.parametrize("spec,arg", [
    ("-4@%edi", UsdtArg(ARG_REG, 4, True, reg="edi", reg_off=112)),
    ("8@%rax", UsdtArg(ARG_REG, 8, False, reg="rax", reg_off=80)),
    ("-1@%al", UsdtArg(ARG_REG, 1, True, reg="al", reg_off=80)),
    ("1@%dil", UsdtArg(ARG_REG, 1, False, reg="dil", reg_off=112)),
    ("4@%r8d", UsdtArg(ARG_REG, 4, False, reg="r8d", reg_off=72)),
    ("-2@%dx", UsdtArg(ARG_REG, 2, True, reg="dx", reg_off=96)),
    ("8@-8(%rbp)", UsdtArg(ARG_REG_DEREF, 8, False, val_off=-8, reg="rbp", reg_off=32)),
    ("-4@(%rsp)", UsdtArg(ARG_REG_DEREF, 4, True, val_off=0, reg="rsp", reg_off=152)),
    ("-1@12(%rsp)", UsdtArg(ARG_REG_DEREF, 1, True, val_off=12, reg="rsp", reg_off=152)),
    ("-4@$-7", UsdtArg(ARG_CONST, 4, True, val_off=-7)),
    ("4@$1000000", UsdtArg(ARG_CONST, 4, False, val_off=1000000)),
    ("-8@0(%rdi,%rsi,8)", UsdtArg(ARG_SIB, 8, True, val_off=0, reg="rdi", reg_off=112,
                                  idx_reg="rsi", idx_reg_off=104, scale=8)),
    ("2@-16(%rax,%rcx)", UsdtArg(ARG_SIB, 2, False, val_off=-16, reg="rax", reg_off=80,
                                 idx_reg="rcx", idx_reg_off=88, scale=1)),
    ("%rdi", UsdtArg(ARG_REG, 8, False, reg="rdi", reg_off=112)),
])
def test_parse_usdt_arg(spec, arg):
    assert parse_arg(spec) == arg


@pytest.mark.parametrize("spec,why", [
    ("3@%eax", "size 3"), ("4@%ah", "unsupported register %ah"),
    ("8@foo(%rip)", "unsupported location"), ("8@8(%rip)", "rip-relative"),
    ("4@$sym", "not a number"), ("8@(%rax,%rbx,3)", "scale 3"),
])
def test_parse_usdt_arg_errors(spec, why):
    with pytest.raises(AttachError, match=re.escape(why)):
        parse_arg(spec)


def test_parse_usdt_args_limit():
    assert len(parse_args("-4@%edi 8@%rsi 4@$1")) == 3
    with pytest.raises(AttachError, match="13 arguments, at most 12"):
        parse_args(" ".join(["8@%rax"] * 13))


def test_usdt_spec_layout_read_from_object_btf():
    from pybpf.spec import ObjectSpec
    spec = ObjectSpec.from_file(obj_path("attach_usdt"))
    layout = layout_from_btf(spec.btf, spec.btf.find("__bpf_usdt_spec").id)
    assert layout == DEFAULT_LAYOUT


def test_encode_usdt_spec_bytes():
    rec = encode_spec(DEFAULT_LAYOUT, parse_args("-4@%edi 8@-8(%rbp) 4@$42 -8@16(%rdi,%rsi,8)"),
                      cookie=0x1122334455667788)
    assert len(rec) == 208
    args = [struct.unpack_from("<QIhbb", rec, 16 * i) for i in range(4)]
    assert args[0] == (0, ARG_REG, 112, 1, 32)
    assert args[1] == (2**64 - 8, ARG_REG_DEREF, 32, 0, 0)
    assert args[2] == (42, ARG_CONST, 0, 0, 32)
    # SIB: type in bits 0-7, index register offset in 8-19, log2(scale) in 20-23
    assert args[3] == (16, ARG_SIB | (104 << 8) | (3 << 20), 112, 1, 0)
    assert rec[64:192] == bytes(128)
    assert struct.unpack_from("<Qh", rec, 192) == (0x1122334455667788, 4)


def test_sib_needs_a_layout_with_an_index_register():
    libbpf_11 = SpecLayout(208, 16, 0, 12, 192, 200, (
        ("val_off", 0, 64), ("arg_type", 64, 32), ("reg_off", 96, 16), ("arg_signed", 112, 8),
        ("arg_bitshift", 120, 8)))
    assert encode_spec(libbpf_11, parse_args("8@%rax"))[:16] == encode_spec(
        DEFAULT_LAYOUT, parse_args("8@%rax"))[:16]
    with pytest.raises(AttachError, match="SIB"):
        encode_spec(libbpf_11, parse_args("8@(%rax,%rbx,2)"))


def test_usdt_site_offsets_and_prelink_delta():
    segs = (Segment(0x400000, 0x1000, 0, 0x1000, 5), Segment(0x600e00, 0x400, 0xe00, 0x200, 6))
    note = UsdtNote("p", "n", 0x400530, 0x4005f0, 0x601010, "-4@%edi")
    f = UsdtFile("/x", False, (note,), 0x4005f0, segs)
    site = site_of(f, note)
    assert (site.vaddr, site.offset, site.ref_ctr_offset) == (0x400530, 0x530, 0x1010)
    moved = UsdtFile("/x", False, (note,), 0x4005f0 + 0x100, segs)     # prelinked by +0x100
    site = site_of(moved, note)
    assert (site.vaddr, site.offset, site.ref_ctr_offset) == (0x400630, 0x630, 0x1110)
    with pytest.raises(AttachError, match="no executable loadable segment"):
        site_of(f, UsdtNote("p", "n", 0x600e10, 0, 0, ""))


# ---- netlink messages ----

def test_nlattr_padding():
    assert nlattr(7, b"ab") == b"\x06\x00\x07\x00ab\x00\x00"
    assert nlattr(1, b"") == b"\x04\x00\x01\x00"
    assert nlattr_str(1, "bpf") == b"\x08\x00\x01\x00bpf\x00"


def test_cls_bpf_message():
    msg = cls_bpf_msg(5, "egress", 9, "tc_count", seq=77)
    ((mtype, flags, seq, payload),) = list(parse_messages(msg))
    assert (mtype, seq) == (44, 77)                                   # RTM_NEWTFILTER
    assert flags == 0x1 | 0x4 | 0x400 | 0x200 | 0x8                   # REQ ACK CREATE EXCL ECHO
    fam, ifx, handle, parent, info = struct.unpack_from("<B3xiIII", payload)
    assert (fam, ifx, handle, parent, info) == (0, 5, 0, 0xFFFFFFF3, 0x0300)
    attrs = parse_attrs(payload[20:])
    assert attrs[1] == b"bpf\0"
    opts = parse_attrs(attrs[2])
    assert struct.unpack("<I", opts[6])[0] == 9 and opts[7] == b"tc_count\0"
    assert struct.unpack("<I", opts[8])[0] == 1                        # direct action
    assert filter_info(49152) == 0xC0000300


def test_clsact_and_xdp_messages():
    ((t, f, _s, p),) = list(parse_messages(clsact_msg(3, 1)))
    assert (t, f) == (36, 0x1 | 0x4 | 0x400 | 0x200)
    assert struct.unpack_from("<B3xiIII", p) == (0, 3, 0xFFFF0000, 0xFFFFFFF1, 0)
    ((t, f, _s, p),) = list(parse_messages(clsact_msg(3, 2, delete=True)))
    assert (t, f) == (37, 0x5)
    ((t, _f, _s, p),) = list(parse_messages(xdp_msg(4, -1, 2, 3)))
    assert t == 19 and struct.unpack_from("<B3xiII", p) == (0, 4, 0, 0)
    xdp = parse_attrs(parse_attrs(p[16:])[43])
    assert struct.unpack("<i", xdp[1])[0] == -1 and struct.unpack("<I", xdp[3])[0] == 2


def test_parse_netlink_error_with_extended_ack():
    inner = struct.pack("<IHHII", 36, 44, 5, 9, 0)
    tlv = nlattr_str(1, "Exclusivity flag on, cannot modify")
    payload = struct.pack("<i", -17) + inner + tlv
    assert parse_error(payload, 0x100 | 0x200) == (17, "Exclusivity flag on, cannot modify")
    assert parse_error(struct.pack("<i", 0) + inner, 0x100) == (0, "")
    with pytest.raises(AttachError, match="malformed"):
        list(parse_messages(struct.pack("<IHHII", 400, 2, 0, 1, 0)))


# ---- perf sampling plan, link info ----

def test_sample_plan():
    cpus = (0, 1, 2, 3)
    assert sample_plan(None, None, None, -1, cpus) == (49, 1 << 10, [0, 1, 2, 3])
    assert sample_plan(999, None, None, -1, cpus) == (999, 1 << 10, [0, 1, 2, 3])
    assert sample_plan(None, 100000, 2, -1, cpus) == (100000, 0, [2])
    assert sample_plan(99, None, None, 1234, cpus) == (99, 1 << 10, [-1])
    with pytest.raises(AttachError, match="not both"):
        sample_plan(10, 10, None, -1, cpus)
    with pytest.raises(AttachError, match="CPU 9 is not online"):
        sample_plan(10, None, 9, -1, cpus)


def test_link_info_details_decoding():
    from pybpf.attach.link import _decode_details
    raw = struct.pack("<IIQIIQ", 1, 0, 0, 0, 0x1040, 0xabc).ljust(64, b"\0")    # uprobe
    assert _decode_details(7, raw) == {"perf_event_type": "uprobe", "cookie": 0xabc,
                                       "offset": 0x1040}
    raw = struct.pack("<IIQIIQQQ", 3, 0, 0, 0, 4, 0xffff0000, 0, 7).ljust(64, b"\0")  # kprobe
    assert _decode_details(7, raw) == {"perf_event_type": "kprobe", "cookie": 7, "offset": 4,
                                       "addr": 0xffff0000}
    assert _decode_details(6, struct.pack("<I", 12).ljust(64, b"\0")) == {"ifindex": 12}
    assert _decode_details(3, struct.pack("<QI", 99, 1).ljust(64, b"\0")) == {
        "cgroup_id": 99, "attach_type": 1}


def test_explain_tracing_eperm_names_the_causes():
    text = explain_tracing_eperm()
    for needle in ("CONFIG_FUNCTION_TRACER", "DYNAMIC_FTRACE_WITH_DIRECT_CALLS", "trampoline",
                   "CAP_BPF", "CAP_PERFMON", "lockdown=integrity does not block"):
        assert needle in text


# ---- ELF symbols of a real binary (gcc) ----

C_SRC = """
__attribute__((noinline)) int pybpf_fn(int x) { return x * 3; }
static __attribute__((noinline, used)) int pybpf_static(int x) { return x + 1; }
int main(int argc, char **argv) { return pybpf_fn(argc) + pybpf_static(argc); }
"""


@pytest.mark.parametrize("pie", [True, False])
def test_symbol_offsets_of_gcc_binary(tmp_path, pie):
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    src = tmp_path / "s.c"
    src.write_text(C_SRC)
    exe = tmp_path / ("pie" if pie else "nopie")
    subprocess.run(["gcc", "-O1", "-pie" if pie else "-no-pie", "-o", str(exe), str(src)],
                   check=True)
    from elftools.elf.elffile import ELFFile
    with open(exe, "rb") as f:                  # the expected values, the slow pyelftools way
        elf = ELFFile(f)
        sym = {s.name: s["st_value"] for s in elf.get_section_by_name(".symtab").iter_symbols()}
        text = next(s for s in elf.iter_segments()
                    if s["p_type"] == "PT_LOAD" and s["p_flags"] & 1)
    for name in ("pybpf_fn", "pybpf_static", "main"):
        expect = sym[name] - text["p_vaddr"] + text["p_offset"]
        assert symbol_offset(str(exe), name) == expect
        assert symbol_offset(str(exe), hex(sym[name])) == expect      # by address
    assert elf_symbols(str(exe)).pie is pie
    assert elf_symbols(str(exe)) is elf_symbols(str(exe))              # cached
    with pytest.raises(AttachError, match="pybpf_fm.*did you mean: pybpf_fn"):
        symbol_offset(str(exe), "pybpf_fm")
