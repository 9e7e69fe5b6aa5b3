"""BTF parser: the word scan, name lookups on large BTF, both endiannesses, and the on-disk
index cache keyed by content."""

from __future__ import annotations

import os
import struct

import pytest

from pybpf.btf import kernel as K
from pybpf.btf.parse import _DICT_LIMIT, build_index, parse_btf
from pybpf.btf.types import Kind, Member, Type
from pybpf.errors import BTFError
from tests.unit._codec_btf import encode

VMLINUX = "/sys/kernel/btf/vmlinux"
has_vmlinux = pytest.mark.skipif(not os.path.exists(VMLINUX), reason="no /sys/kernel/btf/vmlinux")
_REC = {Kind.INT: (4, 0), Kind.ARRAY: (12, 0), Kind.STRUCT: (0, 12), Kind.UNION: (0, 12),
        Kind.ENUM: (0, 8), Kind.FUNC_PROTO: (0, 8), Kind.VAR: (4, 0), Kind.DATASEC: (0, 12),
        Kind.DECL_TAG: (4, 0), Kind.ENUM64: (0, 12)}


def reference_walk(data: bytes) -> tuple[list[int], list[str]]:
    """Byte offset and name of every type, by a plain struct walk (the spec's layout)."""
    e = "<" if data[:2] == b"\x9f\xeb" else ">"
    hdr_len, type_off, type_len, str_off, _ = struct.unpack_from(e + "IIIII", data, 4)
    pos, end, s0 = hdr_len + type_off, hdr_len + type_off + type_len, hdr_len + str_off
    offs, names = [], []
    while pos < end:
        name_off, info = struct.unpack_from(e + "II", data, pos)
        fixed, per = _REC.get(Kind((info >> 24) & 0x1F), (0, 0))
        offs.append(pos)
        names.append(data[s0 + name_off:data.index(b"\0", s0 + name_off)].decode())
        pos += 12 + fixed + per * (info & 0xFFFF)
    return offs, names


def many_types(n: int) -> list[Type]:
    """A BTF large enough for the lookup (non-dict) path, with repeated names."""
    types = [Type(1, Kind.INT, "int", size=4, int_bits=32, int_encoding=1)]
    for i in range(2, n + 1):
        if i % 3 == 0:
            types.append(Type(i, Kind.STRUCT, f"s{i % 1000}", size=8, members=(
                Member("a", 1, 0), Member(f"s{i % 7}", 1, 32))))
        elif i % 3 == 1:
            types.append(Type(i, Kind.PTR, "", type_id=i - 1))
        else:
            types.append(Type(i, Kind.TYPEDEF, f"t{i}", type_id=1))
    return types


@pytest.mark.parametrize("endian", ["<", ">"])
def test_large_btf_lookup_both_endiannesses(endian):
    types = many_types(_DICT_LIMIT + 3000)
    btf = parse_btf(encode(types, endian))
    assert btf._lookup is not None and btf.endian == endian
    by_name: dict[str, list[int]] = {}
    for t in types:
        if t.name:
            by_name.setdefault(t.name, []).append(t.id)
    for name in ("int", "s0", "s3", "s999", "t5", f"t{len(types) - 1}", "s5"):
        assert btf.ids_by_name(name) == by_name.get(name, []), name
    # a member name that no type carries is not a type
    assert btf.ids_by_name("a") == [] and btf.ids_by_name("") == [] and btf.ids_by_name("zz") == []
    s = btf.find("s3", Kind.STRUCT)
    assert s.members == (Member("a", 1, 0), Member("s3", 1, 32)) and s.size == 8
    assert btf[4].kind == Kind.PTR and btf[4].type_id == 3
    offs, _ = reference_walk(encode(types, endian))
    assert list(btf.offsets) == offs


def test_small_btf_uses_the_dict_and_offsets_match():
    types = many_types(50)
    data = encode(types)
    btf = parse_btf(data)
    assert btf._names is not None
    offs, names = reference_walk(data)
    assert list(btf.offsets) == offs
    assert [btf[i].name for i in range(1, 51)] == names[:50]


@pytest.mark.parametrize("cut", [1, 4, 13])
def test_truncated_type_section_is_a_btf_error(cut):
    data = bytearray(encode(many_types(40)))
    type_len = struct.unpack_from("<I", data, 12)[0]
    struct.pack_into("<I", data, 12, type_len - cut)          # type section ends mid-type
    with pytest.raises(BTFError):
        build_index(bytes(data))


def test_unknown_kind_is_a_btf_error():
    data = bytearray(encode(many_types(5)))
    data[24 + 16 + 7] = 0x1F             # kind 31 in type 2's info (type 1 is a 16-byte INT)
    with pytest.raises(BTFError, match="unknown BTF kind 31"):
        parse_btf(bytes(data))


@has_vmlinux
def test_kernel_index_matches_reference_walk():
    data = open(VMLINUX, "rb").read()  # noqa: SIM115
    offs, names = reference_walk(data)
    btf = parse_btf(data)
    assert list(btf.offsets) == offs
    by_name: dict[str, list[int]] = {}
    for i, n in enumerate(names, start=1):
        if n:
            by_name.setdefault(n, []).append(i)
    for name in ("task_struct", "file", "pid", "list_head", "u32", "int", "trace_event_raw_sys_enter",
                 "bpf_map", "sk_buff", "callback_head"):
        assert btf.ids_by_name(name) == by_name[name], name
    ts = btf.find("task_struct", Kind.STRUCT)
    assert any(m.name == "real_parent" for m in ts.members)


@has_vmlinux
def test_index_cache_is_keyed_by_content(tmp_path, monkeypatch):
    data = bytearray(open(VMLINUX, "rb").read())  # noqa: SIM115
    path = tmp_path / "vmlinux"
    path.write_bytes(data)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(K, "_keys", {})
    monkeypatch.setattr(K, "_pending", {})
    cold = K.parse_cached(str(path), bytes(data))
    key = K.btf_key(str(path))
    assert key == K.content_hash(bytes(data))
    idx_file = tmp_path / "cache" / "pybpf" / f"btf-{key}.idx"
    assert not idx_file.exists()       # scanned lazily: saved once walked to the end
    assert cold.count > 1000
    assert idx_file.exists()
    warm = K.parse_cached(str(path), bytes(data))
    assert list(warm.index.words) == list(cold.index.words)
    assert warm.find("task_struct").members == cold.find("task_struct").members
    # the memo maps the file's identity to its hash: a new process need not hash again
    monkeypatch.setattr(K, "_keys", {})
    monkeypatch.setattr(K, "content_hash", lambda d: pytest.fail("hashed again"))
    assert K.btf_key(str(path)) == key
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(K, "_keys", {})
    # other content (one member offset changed), same size: another key, another index file
    ts = cold.find("task_struct")
    pos = cold.offsets[ts.id - 1] + 12 + 8 + 12 * 3
    struct.pack_into("<I", data, pos, struct.unpack_from("<I", data, pos)[0] + 64)
    path.write_bytes(data)
    os.utime(path, ns=(1, 1))
    changed = K.parse_cached(str(path), bytes(data))
    assert K.btf_key(str(path)) != key
    assert changed.find("task_struct").members[3].bit_offset == ts.members[3].bit_offset + 64


@has_vmlinux
def test_corrupt_index_cache_is_ignored(tmp_path, monkeypatch):
    data = open(VMLINUX, "rb").read()  # noqa: SIM115
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(K, "_keys", {})
    key = K.btf_key(VMLINUX, data)
    f = tmp_path / "pybpf" / f"btf-{key}.idx"
    f.parent.mkdir(parents=True, exist_ok=True)
    for junk in (b"", b"PYBPFIX2" + b"\xff" * 20, K._MAGIC + struct.pack("<I", 3) + b"\0" * 24):
        f.write_bytes(junk)
        btf = K.parse_cached(VMLINUX, data)
        assert btf.find("task_struct").kind == Kind.STRUCT
