"""CO-RE relocations against hand-made target BTF: each kind gives libbpf's answer."""

from __future__ import annotations

import pytest

from pybpf import insn as I
from pybpf.btf.core import POISON_HELPER, CoreRelocator
from pybpf.btf.core import CoreReloKind as K
from pybpf.btf.ext import CoreRelo
from pybpf.errors import CORERelocationError
from tests.unit._codec_btf import Builder, common

LDX_W, LDX_DW, MOV_K, LSH_K, RSH_K = 0x61, 0x79, 0xB7, 0x67, 0x77


def local_btf():
    b = Builder()
    c = common(b)
    arr = b.array(c["s32"], 4)
    comm = b.array(c["char"], 16)
    task = b.struct("task___old", 48, [("pid", c["s32"], 0), ("parent", 0, 64),
                                       ("comm", comm, 128), ("flags", c["u32"], 256),
                                       ("vals", arr, 288)])
    bf = b.struct("bits", 4, [("a", c["u32"], 0, 3), ("b", c["u32"], 3, 5)], kflag=True)
    st = b.enum("state", 4, {"RUNNING": 0, "STOPPED": 1, "DEAD": 2})
    gone = b.struct("gone", 4, [("x", c["s32"], 0)])
    big = b.enum("big", 8, {"HUGE": 1 << 40})
    return b.build(), dict(task=task, bits=bf, state=st, gone=gone, big=big)


def target_btf(dup: bool = False):
    b = Builder()
    c = common(b)
    comm = b.array(c["char"], 16)
    arr = b.array(c["s32"], 8)
    anon = b.union("", 8, [("pid", c["s64"], 0), ("tgid", c["s32"], 0)])
    b.struct("task", 64, [("pad", c["u64"], 0), ("", anon, 64), ("comm", comm, 128),
                          ("vals", arr, 256), ("parent", 0, 512)])
    if dup:
        b.struct("task", 64, [("pid", c["s32"], 32)])
    b.struct("bits", 4, [("x", c["u32"], 0, 10), ("b", c["u32"], 10, 5), ("a", c["u32"], 15, 3)],
             kflag=True)
    b.enum("state", 4, {"STOPPED": 4, "RUNNING": 0})
    b.enum("big", 8, {"HUGE": 1 << 41}, kind=__import__("pybpf").btf.types.Kind.ENUM64)
    return b.build()


def run(kind: K, type_key: str, access: str, insn: I.Insn, target=None, dup=False):
    local, ids = local_btf()
    code = bytearray(insn.encode() + (bytes(8) if insn.code == I.LD_IMM64 else b""))
    relo = CoreRelo(0, ids[type_key], access, int(kind))
    rel = CoreRelocator(local, target or target_btf(dup))
    res = rel.relocate_section(code, [relo], "test")[0]
    return res, code


def test_field_moved_through_flavor_and_anonymous_union():
    res, code = run(K.FIELD_BYTE_OFFSET, "task", "0:0", I.Insn(LDX_W, 1, 1, 0, 0))
    assert (res.orig_val, res.new_val) == (0, 8)          # pid now inside an anonymous union at 8
    ins = I.decode(code, 0)
    assert ins.off == 8 and ins.code == LDX_DW            # int -> long: the load widens to 8 bytes


def test_char_array_and_array_element():
    res, code = run(K.FIELD_BYTE_OFFSET, "task", "0:2", I.Insn(LDX_W, 1, 1, 16, 0))
    assert res.new_val == 16
    res, code = run(K.FIELD_BYTE_OFFSET, "task", "0:4:3", I.Insn(LDX_W, 1, 1, 36 + 12, 0))
    assert (res.orig_val, res.new_val) == (48, 32 + 12)


def test_missing_field_exists_zero_offset_poisoned():
    res, code = run(K.FIELD_EXISTS, "task", "0:3", I.Insn(MOV_K, 1, 0, 0, 1))
    assert (res.new_val, res.poison) == (0, False) and I.decode(code, 0).imm == 0
    res, code = run(K.FIELD_BYTE_OFFSET, "task", "0:3", I.Insn(LDX_W, 1, 1, 32, 0))
    assert res.poison and "flags" in res.fail_reason
    assert I.decode(code, 0) == I.Insn(I.CALL, 0, 0, 0, POISON_HELPER)


def test_bitfield_shifts_like_libbpf():
    # target b: bit 10, 5 bits in a u32 -> byte_off 0, size 4, lshift 64-15, rshift 64-5
    assert run(K.FIELD_BYTE_OFFSET, "bits", "0:1", I.Insn(MOV_K, 1, 0, 0, 0))[0].new_val == 0
    assert run(K.FIELD_BYTE_SIZE, "bits", "0:1", I.Insn(MOV_K, 1, 0, 0, 4))[0].new_val == 4
    res, code = run(K.FIELD_LSHIFT_U64, "bits", "0:1", I.Insn(LSH_K, 1, 0, 0, 56))
    assert (res.orig_val, res.new_val, I.decode(code, 0).imm) == (56, 49, 49)
    assert run(K.FIELD_RSHIFT_U64, "bits", "0:1", I.Insn(RSH_K, 1, 0, 0, 59))[0].new_val == 59
    # a: moved to bit 15
    assert run(K.FIELD_LSHIFT_U64, "bits", "0:0", I.Insn(LSH_K, 1, 0, 0, 61))[0].new_val == 64 - 18


def test_bitfield_original_value_not_validated():
    """clang may size a bitfield's load by the record's alignment (8 where libbpf computes 4):
    like libbpf, the instruction's original value of a bitfield relocation is not checked."""
    res, code = run(K.FIELD_BYTE_SIZE, "bits", "0:1", I.Insn(MOV_K, 2, 0, 0, 8))
    assert (res.orig_val, res.validate, I.decode(code, 0).imm) == (4, False, 4)
    with pytest.raises(CORERelocationError, match="expected imm 4, found 8"):
        run(K.FIELD_BYTE_SIZE, "task", "0:0", I.Insn(MOV_K, 2, 0, 0, 8))   # not a bitfield


def test_field_signed():
    assert run(K.FIELD_SIGNED, "task", "0:0", I.Insn(MOV_K, 1, 0, 0, 1))[0].new_val == 1
    assert run(K.FIELD_SIGNED, "bits", "0:1", I.Insn(MOV_K, 1, 0, 0, 0))[0].new_val == 0


def test_enum_value_renumbered_and_missing():
    res, code = run(K.ENUMVAL_VALUE, "state", "1", I.Insn(MOV_K, 1, 0, 0, 1))
    assert res.new_val == 4 and I.decode(code, 0).imm == 4
    assert run(K.ENUMVAL_EXISTS, "state", "2", I.Insn(MOV_K, 1, 0, 0, 1))[0].new_val == 0
    res, _ = run(K.ENUMVAL_VALUE, "state", "2", I.Insn(MOV_K, 1, 0, 0, 2))
    assert res.poison


def test_enum64_value_ld_imm64():
    ld = I.Insn(I.LD_IMM64, 1, 0, 0, 0)
    local, ids = local_btf()
    code = bytearray(ld.encode() + bytes(8))
    I.set_ld_imm64(code, 0, 1 << 40)
    res = CoreRelocator(local, target_btf()).relocate_section(
        code, [CoreRelo(0, ids["big"], "0", int(K.ENUMVAL_VALUE))], "t")[0]
    assert res.new_val == 1 << 41
    assert (I.decode(code, 1).imm << 32) | (I.decode(code, 0).imm & 0xFFFFFFFF) == 1 << 41


def test_type_size_exists_ids():
    assert run(K.TYPE_SIZE, "task", "0", I.Insn(MOV_K, 1, 0, 0, 48))[0].new_val == 64
    assert run(K.TYPE_EXISTS, "gone", "0", I.Insn(MOV_K, 1, 0, 0, 1))[0].new_val == 0
    assert run(K.TYPE_EXISTS, "task", "0", I.Insn(MOV_K, 1, 0, 0, 1))[0].new_val == 1
    task_id = local_btf()[1]["task"]
    res = run(K.TYPE_ID_LOCAL, "task", "0", I.Insn(MOV_K, 1, 0, 0, task_id))[0]
    assert res.new_val == task_id
    tid = run(K.TYPE_ID_TARGET, "task", "0", I.Insn(MOV_K, 1, 0, 0, task_id))[0]
    assert tid.new_val == tid.target_id and tid.target_btf[tid.new_val].name == "task"


def test_type_matches():
    assert run(K.TYPE_MATCHES, "state", "0", I.Insn(MOV_K, 1, 0, 0, 1))[0].new_val == 0  # DEAD missing
    assert run(K.TYPE_MATCHES, "gone", "0", I.Insn(MOV_K, 1, 0, 0, 1))[0].new_val == 0


def _module_btf():
    b = Builder()
    c = common(b)
    b.struct("gone", 8, [("pad", c["u32"], 0), ("x", c["s32"], 32)])
    btf = b.build()
    btf.name = "mod_a"
    return btf


def test_module_btf_searched_only_without_vmlinux_candidates():
    """libbpf's rule: module BTFs are searched for a type that vmlinux lacks entirely."""
    local, ids = local_btf()
    asked = []
    rel = CoreRelocator(local, target_btf(), lambda: asked.append(1) or [_module_btf()])
    code = bytearray(I.Insn(LDX_W, 1, 1, 0, 0).encode() * 3)
    task = CoreRelo(0, ids["task"], "0:0", int(K.FIELD_BYTE_OFFSET))
    gone = [CoreRelo(off, ids["gone"], "0:0", int(K.FIELD_BYTE_OFFSET)) for off in (8, 16)]
    res = rel.relocate_section(code, [task], "s")[0]
    assert (res.new_val, res.modules, res.module, asked) == (8, False, "", [])
    res = rel.relocate_section(code, gone, "s")
    assert [(r.new_val, r.modules, r.module) for r in res] == [(4, True, "mod_a")] * 2
    assert asked == [1] and I.decode(code, 1).off == I.decode(code, 2).off == 4   # loaded once
    assert res[0].describe().endswith("-> 4 (was 0) [module mod_a]")


def test_type_missing_everywhere_searched_modules_and_poisoned():
    local, ids = local_btf()
    rel = CoreRelocator(local, target_btf(), lambda: [])
    code = bytearray(I.Insn(LDX_W, 1, 1, 0, 0).encode())
    res = rel.relocate_section(code, [CoreRelo(0, ids["gone"], "0:0",
                                               int(K.FIELD_BYTE_OFFSET))], "s")[0]
    assert res.poison and res.modules and not res.module


def test_ambiguous_candidates():
    with pytest.raises(CORERelocationError, match="ambiguous"):
        run(K.FIELD_BYTE_OFFSET, "task", "0:0", I.Insn(LDX_W, 1, 1, 0, 0), dup=True)


def test_instruction_must_hold_local_value():
    with pytest.raises(CORERelocationError, match="expected offset 0"):
        run(K.FIELD_BYTE_OFFSET, "task", "0:0", I.Insn(LDX_W, 1, 1, 4, 0))


def test_kernel_task_struct_offsets():
    """Against the real vmlinux BTF: offsets equal the member bit offsets bpftool shows."""
    import os
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        pytest.skip("no /sys/kernel/btf/vmlinux")
    from pybpf.btf.kernel import load_kernel
    kern = load_kernel()
    ts = kern.find("task_struct")
    want = {m.name: m.bit_offset // 8 for m in ts.members if m.name in ("tgid", "comm", "real_parent")}
    b = Builder()
    c = common(b)
    comm = b.array(c["char"], 16)
    local = b.struct("task_struct", 24, [("tgid", c["s32"], 0), ("comm", comm, 32),
                                         ("real_parent", b.ptr(0), 160)])
    lb = b.build()
    rel = CoreRelocator(lb, kern)
    got = {}
    for idx, (name, off) in enumerate([("tgid", 0), ("comm", 4), ("real_parent", 20)]):
        code = bytearray(I.Insn(LDX_W, 1, 1, off, 0).encode())
        got[name] = rel.relocate_section(code, [CoreRelo(0, local, f"0:{idx}", 0)], "k")[0].new_val
    assert got == want


def _tracepoint_btf(args: list[str], req_members: list[str], flavor: str = ""):
    """``typedef void (*btf_trace_x<flavor>)(void *, <args>...)`` over ``struct request``."""
    from pybpf.btf.types import Kind, Param
    b = Builder()
    c = common(b)
    req = b.struct("request", 8, [(m, c["u32"], 32 * i) for i, m in enumerate(req_members)])
    queue = b.fwd("request_queue")
    ptrs = {"rq": b.ptr(req), "q": b.ptr(queue)}
    proto = b.add(kind=Kind.FUNC_PROTO, type_id=0,
                  params=tuple(Param("", t) for t in [b.ptr(0), *(ptrs[a] for a in args)]))
    td = b.typedef("btf_trace_x" + flavor, b.ptr(proto))
    return b.build(), td


def test_type_matches_tells_tracepoint_prototypes_apart():
    """The biolatency case: block_rq_issue lost its queue argument in 5.11."""
    from pybpf.btf.core import _types_match
    local, td = _tracepoint_btf(["rq"], ["a", "b"], "___rq")
    new, new_td = _tracepoint_btf(["rq"], ["q", "cmd_flags", "tag"])
    old, old_td = _tracepoint_btf(["q", "rq"], ["q", "cmd_flags"])
    assert _types_match(local, td, new, new_td, 0)       # behind a pointer: the name is enough
    assert not _types_match(local, td, old, old_td, 0)   # two arguments after ctx, not one
    res = run(K.TYPE_MATCHES, "task", "0", I.Insn(MOV_K, 1, 0, 0, 1))[0]
    assert res.new_val == 0                              # members of task do not all match


def test_type_matches_rules_of_libbpf():
    from pybpf.btf.core import _types_match
    from pybpf.btf.types import Kind
    b = Builder()
    c = common(b)
    anon = b.union("", 4, [("x", c["u32"], 0)])
    s = b.struct("s", 8, [("", anon, 0), ("y", c["s32"], 32)])
    fwd_s, fwd_u = b.fwd("s"), b.add(kind=Kind.FWD, name="s", kflag=True)
    f = b.float("float", 4)
    e = b.enum("e", 4, {"A": 0, "B": 1})
    ps = b.ptr(s)
    local = b.build()
    b2 = Builder()
    c2 = common(b2)
    anon2 = b2.union("", 4, [("x", c2["u32"], 0)])
    s2 = b2.struct("s", 12, [("z", c2["u8"], 0), ("", anon2, 32), ("y", c2["s32"], 64)])
    s_other = b2.struct("s", 8, [("y", c2["u32"], 0)])          # y unsigned here
    f2 = b2.float("float", 4)
    e2 = b2.enum("e", 4, {"B": 7, "A": 3, "C": 9})
    e_small = b2.enum("e", 4, {"A": 0})
    p_other = b2.ptr(s_other)
    target = b2.build()
    assert _types_match(local, s, target, s2, 0)          # anonymous members, extra target members
    assert not _types_match(local, s, target, s_other, 0)  # signedness differs
    assert _types_match(local, e, target, e2, 0) and not _types_match(local, e, target, e_small, 0)
    assert not _types_match(local, f, target, f2, 0)      # libbpf has no rule for FLOAT
    assert _types_match(local, fwd_s, target, s2, 0, True)     # struct fwd behind a pointer
    assert not _types_match(local, fwd_u, target, s2, 0, True)  # union fwd vs struct
    assert not _types_match(local, fwd_s, target, s2, 0)        # not behind a pointer
    assert _types_match(local, ps, target, p_other, 0)   # behind a pointer, members unchecked


def test_anonymous_member_on_the_local_path_is_not_matched_by_index():
    """6.18 wraps file.f_path in an anonymous union; objects built on it must still
    relocate file.f_path.dentry on kernels with a plain member (and the reverse)."""
    def btf(wrapped: bool):
        b = Builder()
        c = common(b)
        path = b.struct("path", 16, [("mnt", c["u64"], 0), ("dentry", c["u64"], 64)])
        members = [("f_count", c["u64"], 0), ("f_flags", c["u32"], 64)]
        if wrapped:
            anon = b.union("", 16, [("f_path", path, 0), ("__f_path", path, 0)])
            members.append(("", anon, 128))
        else:
            members += [("f_lock", c["u32"], 96), ("f_path", path, 192)]
        file_id = b.struct("file", 64, members)
        return b.build(), file_id

    for local_wrapped in (True, False):
        local, file_id = btf(local_wrapped)
        target, _ = btf(not local_wrapped)
        access = "0:2:0:1" if local_wrapped else "0:3:1"
        rel = CoreRelocator(local, target)
        local_off = 24 if local_wrapped else 32
        code = bytearray(I.Insn(LDX_DW, 1, 1, local_off, 0).encode())
        res = rel.relocate_section(code, [CoreRelo(0, file_id, access, int(K.FIELD_BYTE_OFFSET))],
                                   "s")[0]
        assert not res.poison, res.fail_reason
        assert res.new_val == (32 if local_wrapped else 24) == I.decode(code, 0).off
