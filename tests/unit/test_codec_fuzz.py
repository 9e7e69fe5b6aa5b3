"""Property tests for the codec: random (well-formed and malformed) BTF, random bytes.

Well-formed types round-trip; anything else either works or raises MapError/BTFError,
never another exception, and always in bounded time.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))

from _codec_btf import Builder  # noqa: E402

from pybpf.btf.types import Enumerator, Kind, Member, Type, VarSecinfo  # noqa: E402
from pybpf.errors import BTFError, MapError  # noqa: E402
from pybpf.maps.codec import codec_for, type_size  # noqa: E402

SETTINGS = settings(max_examples=250, deadline=2000, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ---------------------------------------------------------------- well-formed types
# A descriptor is a small tuple tree; ``build`` lays it out as a C compiler would and
# reports (type id, size, align, exact) where ``exact`` means encode(decode(b)) == b.

names = st.sampled_from(["a", "b", "pid", "comm", "count", "x", "_r", "len", "from"])
scalar = st.one_of(
    st.tuples(st.just("int"), st.sampled_from([1, 2, 4, 8, 16]), st.booleans()),
    st.tuples(st.just("char")), st.tuples(st.just("bool")), st.tuples(st.just("ptr")),
    st.tuples(st.just("float"), st.sampled_from([2, 4, 8])),
    st.tuples(st.just("enum"), st.sampled_from([1, 2, 4, 8]), st.booleans(),
              st.lists(st.integers(-300, 300), min_size=1, max_size=4)),
    st.tuples(st.just("bits"), st.lists(st.integers(1, 16), min_size=1, max_size=4), st.booleans()),
)


def _extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.tuples(st.just("array"), children, st.integers(0, 4)),
        st.tuples(st.just("struct"), st.lists(st.tuples(names, children), min_size=0, max_size=4)),
        st.tuples(st.just("union"), st.lists(st.tuples(names, children), min_size=1, max_size=3)),
        st.tuples(st.just("typedef"), children),
    )


descriptors = st.recursive(scalar, _extend, max_leaves=10)


def _align(off: int, a: int) -> int:
    return (off + a - 1) // a * a


def build(b: Builder, d: Any) -> tuple[int, int, int, bool]:
    kind = d[0]
    if kind == "int":
        size, signed = d[1], d[2]
        return b.int(f"i{size}", size, signed=signed), size, min(size, 8), True
    if kind == "char":
        return b.int("char", 1, signed=True), 1, 1, False
    if kind == "bool":
        return b.int("_Bool", 1, bool_=True), 1, 1, False
    if kind == "ptr":
        return b.ptr(0), 8, 8, True
    if kind == "float":
        return b.float(f"f{d[1]}", d[1]), d[1], d[1], False
    if kind == "enum":
        size, signed, vals = d[1], d[2], d[3]
        return (b.enum("e", size, {f"E{i}": v for i, v in enumerate(vals)}, signed=signed),
                size, size, True)
    if kind == "bits":
        u32 = b.int("unsigned int", 4)
        s32 = b.int("int", 4, signed=True)
        members, pos, exact = [], 0, True
        for i, w in enumerate(d[1]):
            if pos % 32 + w > 32:
                pos = _align(pos, 32)
            members.append((f"f{i}", s32 if d[2] else u32, pos, w))
            pos += w
        size = _align(max(pos, 1), 32) // 8
        exact = pos == size * 8
        return b.struct("bits", size, members, kflag=True), size, 4, exact
    if kind == "array":
        eid, esize, ealign, eexact = build(b, d[1])
        n = d[2]
        if d[1][0] == "char":
            return b.array(eid, n), n, 1, n == 0
        return b.array(eid, n), esize * n, ealign, eexact
    if kind == "typedef":
        tid, size, align, exact = build(b, d[1])
        return b.typedef("td", tid), size, align, exact
    if kind in ("struct", "union"):
        members, off, align, exact, size = [], 0, 1, True, 0
        for name, child in d[1]:
            cid, csize, calign, cexact = build(b, child)
            if kind == "struct":
                start = _align(off, calign)
                exact &= start == off
                members.append((name, cid, start * 8))
                off = start + csize
            else:
                members.append((name, cid, 0))
                off = max(off, csize)
            align = max(align, calign)
            exact &= cexact
        size = _align(off, align)
        exact &= size == off
        if kind == "union":
            exact &= all(build_size == off for build_size in [off])
        tid = (b.union if kind == "union" else b.struct)("s", size, members)
        return tid, size, align, exact
    raise AssertionError(kind)


def _has_union(d: Any) -> bool:
    if d[0] == "union":
        return True
    if d[0] == "struct":
        return any(_has_union(c) for _, c in d[1])
    if d[0] in ("array", "typedef"):
        return _has_union(d[1])
    return False


def same(a: Any, b: Any) -> bool:
    """Equality where NaN equals NaN (float payloads may change through a double)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b and type(a) is type(b) or (isinstance(a, int) and isinstance(b, int) and a == b)


@SETTINGS
@given(d=descriptors, data=st.data())
def test_well_formed_round_trip(d: Any, data: st.DataObject) -> None:
    b = Builder()
    tid, size, _, exact = build(b, d)
    btf = b.build()
    codec = codec_for(btf, tid, size)
    assert codec.size == size
    raw = data.draw(st.binary(min_size=size, max_size=size))
    value = codec.decode(raw)
    again = codec.encode(value)
    assert len(again) == size
    if exact:
        assert again == raw
    if not _has_union(d):
        assert same(codec.decode(again), value)
    many = codec.decode_many(raw * 3, 3)
    assert len(many) == 3 and all(same(v, value) for v in many)


# ---------------------------------------------------------------- malformed BTF

KINDS = [k for k in Kind]


@st.composite
def random_btf(draw: st.DrawFn) -> tuple[Builder, int]:
    n = draw(st.integers(1, 8))
    ids = st.integers(0, n + 1)
    b = Builder(endian=draw(st.sampled_from(["<", ">"])))
    for i in range(n):
        kind = draw(st.sampled_from(KINDS))
        members = tuple(Member(draw(st.sampled_from(["", "a", "b", "a"])), draw(ids),
                               draw(st.integers(0, 80)), draw(st.sampled_from([0, 0, 1, 3, 33])))
                        for _ in range(draw(st.integers(0, 3))))
        b.types.append(Type(
            id=i + 1, kind=kind, name=draw(st.sampled_from(["", "char", "x", "mro", "_sunder_"])),
            size=draw(st.sampled_from([0, 1, 2, 3, 4, 8, 16, 17, 1 << 30])),
            type_id=draw(ids), kflag=draw(st.booleans()),
            int_encoding=draw(st.integers(0, 7)), int_offset=draw(st.integers(0, 9)),
            int_bits=draw(st.integers(0, 130)), elem_type_id=draw(ids),
            nelems=draw(st.sampled_from([0, 1, 3, 1 << 31])), members=members,
            enumerators=tuple(Enumerator(draw(st.sampled_from(["A", "B", "name"])),
                                         draw(st.integers(-(1 << 64), 1 << 64)))
                              for _ in range(draw(st.integers(0, 3)))),
            secinfos=tuple(VarSecinfo(draw(ids), draw(st.integers(0, 20)), draw(st.integers(0, 9)))
                           for _ in range(draw(st.integers(0, 2))))))
    return b, draw(st.integers(1, n))


@SETTINGS
@given(spec=random_btf(), data=st.data())
def test_malformed_btf_only_raises_pybpf_errors(spec: tuple[Builder, int], data: st.DataObject) -> None:
    b, tid = spec
    btf = b.build()
    try:
        natural = type_size(btf, tid)
    except (MapError, BTFError):
        natural = 4
    size = data.draw(st.sampled_from([natural, natural, natural, 0, 4, 17]))
    try:
        codec = codec_for(btf, tid, size)
    except (MapError, BTFError):
        return
    raw = data.draw(st.binary(min_size=codec.size, max_size=codec.size))
    try:
        value = codec.decode(raw)
        codec.encode(value)
        codec.decode_many(raw * 2, 2)
    except (MapError, BTFError):
        pass


@SETTINGS
@given(d=descriptors, data=st.data())
def test_bad_values_raise_map_error(d: Any, data: st.DataObject) -> None:
    b = Builder()
    tid, size, _, _ = build(b, d)
    codec = codec_for(b.build(), tid, size)
    junk = data.draw(st.one_of(st.none(), st.integers(), st.text(max_size=40), st.binary(max_size=40),
                               st.floats(), st.lists(st.integers(), max_size=6),
                               st.dictionaries(st.text(max_size=4), st.integers(), max_size=3)))
    try:
        codec.encode(junk)
    except MapError:
        pass
