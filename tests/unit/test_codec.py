"""The BTF codec on hand-built BTF: every kind, round trips, error messages."""

from __future__ import annotations

import logging
import math
import mmap
import pickle
import struct
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _codec_btf import Builder, common  # noqa: E402

from pybpf.btf.types import Kind  # noqa: E402
from pybpf.errors import BTFError, MapError  # noqa: E402
from pybpf.maps.codec import EnumValue, Record, codec_for, raw_codec, text_value  # noqa: E402


@pytest.fixture
def b() -> Builder:
    return Builder()


@pytest.fixture
def c(b: Builder) -> dict[str, int]:
    return common(b)


def event_type(b: Builder, c: dict[str, int]) -> int:
    comm = b.array(c["char"], 16)
    fname = b.array(c["char"], 256)
    return b.struct("event", 288, [("pid", c["u32"], 0), ("ppid", c["u32"], 32),
                                   ("comm", comm, 64), ("filename", fname, 192),
                                   ("ts", c["u64"], 288 * 8 - 64)])


EVENT = struct.Struct("<II16s256sQ")


# ---------------------------------------------------------------- scalars

@pytest.mark.parametrize("name,size,signed,raw,value", [
    ("u8", 1, False, b"\xff", 255), ("s8", 1, True, b"\xff", -1),
    ("u16", 2, False, b"\x01\x02", 0x0201), ("s16", 2, True, b"\xfe\xff", -2),
    ("u32", 4, False, b"\xff\xff\xff\xff", 0xFFFFFFFF), ("s32", 4, True, b"\x00\x00\x00\x80", -(1 << 31)),
    ("u64", 8, False, struct.pack("<Q", 1 << 63), 1 << 63), ("s64", 8, True, struct.pack("<q", -5), -5),
])
def test_ints(b: Builder, c: dict[str, int], name: str, size: int, signed: bool, raw: bytes,
              value: int) -> None:
    btf = b.build()
    codec = codec_for(btf, c[name], size)
    assert codec.size == size
    assert codec.decode(raw) == value and type(codec.decode(raw)) is int
    assert codec.encode(value) == raw


def test_int_accepts_both_signed_and_unsigned_ranges(b: Builder, c: dict[str, int]) -> None:
    btf = b.build()
    u32 = codec_for(btf, c["u32"], 4)
    assert u32.encode(-1) == b"\xff" * 4
    with pytest.raises(MapError, match=r"4294967296 out of range for unsigned int"):
        u32.encode(1 << 32)
    with pytest.raises(MapError, match="expected an integer for unsigned int, got str"):
        u32.encode("12")
    with pytest.raises(MapError, match="got float"):
        u32.encode(1.5)


def test_int128_bool_ptr_float(b: Builder, c: dict[str, int]) -> None:
    i128 = b.int("__int128", 16, signed=True)
    u128 = b.int("unsigned __int128", 16)
    ptr = b.ptr(c["u32"])
    f32, f64, f16 = b.float("float", 4), b.float("double", 8), b.float("_Float16", 2)
    btf = b.build()
    assert codec_for(btf, i128, 16).decode(b"\xff" * 16) == -1
    assert codec_for(btf, u128, 16).decode(b"\xff" * 16) == (1 << 128) - 1
    assert codec_for(btf, u128, 16).encode(1 << 100) == (1 << 100).to_bytes(16, "little")
    assert codec_for(btf, c["bool"], 1).decode(b"\x01") is True
    assert codec_for(btf, c["bool"], 1).decode(b"\x00") is False
    assert codec_for(btf, c["bool"], 1).encode(True) == b"\x01"
    assert codec_for(btf, ptr, 8).decode(struct.pack("<Q", 0xFFFF888012345678)) == 0xFFFF888012345678
    assert codec_for(btf, f32, 4).decode(struct.pack("<f", 1.5)) == 1.5
    assert codec_for(btf, f64, 8).encode(-2.25) == struct.pack("<d", -2.25)
    assert codec_for(btf, f16, 2).decode(struct.pack("<e", 0.5)) == 0.5
    assert math.isinf(codec_for(btf, f64, 8).decode(struct.pack("<d", math.inf)))
    with pytest.raises(MapError, match="expected a number for double"):
        codec_for(btf, f64, 8).encode("x")


def test_typedefs_and_modifiers_resolve(b: Builder, c: dict[str, int]) -> None:
    t = b.typedef("__u32", c["u32"])
    t2 = b.typedef("pid_t", b.const(b.volatile(t)))
    btf = b.build()
    codec = codec_for(btf, t2, 4)
    assert codec.decode(b"\x07\0\0\0") == 7
    assert codec.name == "pid_t"


# ---------------------------------------------------------------- enums

def test_enums(b: Builder, c: dict[str, int]) -> None:
    e = b.enum("color", 4, {"RED": 0, "GREEN": 1, "BLUE": 7})
    s = b.enum("delta", 1, {"DOWN": -1, "UP": 1}, signed=True)
    e64 = b.enum("big", 8, {"HUGE": 1 << 40}, kind=Kind.ENUM64)
    btf = b.build()
    codec = codec_for(btf, e, 4)
    v = codec.decode(b"\x07\0\0\0")
    assert isinstance(v, EnumValue) and isinstance(v, int)
    assert v == 7 and v.name == "BLUE" and v.value == 7 and str(v) == "BLUE"
    assert repr(v) == "<color.BLUE: 7>" and f"{v:d}" == "7" and hash(v) == hash(7)
    unknown = codec.decode(b"\x05\0\0\0")
    assert unknown == 5 and type(unknown) is int
    assert codec.encode("GREEN") == b"\x01\0\0\0"
    assert codec.encode(v) == b"\x07\0\0\0"
    assert codec.encode(5) == b"\x05\0\0\0"
    with pytest.raises(MapError, match=r"'PINK' is not an enumerator of enum color"):
        codec.encode("PINK")
    sc = codec_for(btf, s, 1)
    assert sc.decode(b"\xff").name == "DOWN" and sc.decode(b"\xff") == -1
    assert codec_for(btf, e64, 8).decode(struct.pack("<Q", 1 << 40)).name == "HUGE"
    assert pickle.loads(pickle.dumps(v)) == 7


# ---------------------------------------------------------------- strings and arrays

def test_char_array_is_text(b: Builder, c: dict[str, int]) -> None:
    arr = b.array(c["char"], 8)
    btf = b.build()
    codec = codec_for(btf, arr, 8)
    assert codec.decode(b"bash\0\0\0\0") == "bash"
    assert codec.decode(b"ab\0garba") == "ab"             # stale bytes after NUL ignored
    assert codec.decode(b"12345678") == "12345678"        # full, no terminator
    assert codec.decode(b"\0" * 8) == ""
    assert codec.decode("é\0".encode() + b"\0" * 5) == "é"
    assert codec.decode(b"\xff\xfeab\0\0x\0") == b"\xff\xfeab\0\0x"   # not UTF-8: raw bytes
    assert codec.encode("bash") == b"bash\0\0\0\0"
    assert codec.encode(b"\xff\x01") == b"\xff\x01" + b"\0" * 6
    assert codec.encode("12345678") == b"12345678"
    with pytest.raises(MapError, match=r"string of 9 bytes does not fit char\[8\]"):
        codec.encode("123456789")
    assert text_value(b"x\0y") == "x"


def test_byte_and_number_arrays(b: Builder, c: dict[str, int]) -> None:
    u8s = b.array(c["u8"], 6)
    s16s = b.array(c["s16"], 3)
    grid = b.array(b.array(c["u32"], 2), 2)
    names = b.array(b.array(c["char"], 4), 3)
    bools = b.array(c["bool"], 2)
    empty = b.array(c["u32"], 0)
    btf = b.build()
    mac = codec_for(btf, u8s, 6)
    assert mac.decode(b"\x00\x11\x22\x33\x44\x55") == b"\x00\x11\x22\x33\x44\x55"
    assert mac.encode([1, 2]) == b"\x01\x02\0\0\0\0"
    assert mac.encode(b"\xaa") == b"\xaa\0\0\0\0\0"
    with pytest.raises(MapError, match="expected bytes"):
        mac.encode("abc")
    nums = codec_for(btf, s16s, 6)
    assert nums.decode(struct.pack("<3h", -1, 2, -3)) == (-1, 2, -3)
    assert nums.encode([5]) == struct.pack("<3h", 5, 0, 0)
    with pytest.raises(MapError, match=r"4 elements do not fit short\[3\]"):
        nums.encode([1, 2, 3, 4])
    with pytest.raises(MapError, match=r"short\[3\]\[1\]: expected an integer"):
        nums.encode([1, "x"])
    g = codec_for(btf, grid, 16)
    assert g.decode(struct.pack("<4I", 1, 2, 3, 4)) == ((1, 2), (3, 4))
    assert g.encode(((1, 2), (3, 4))) == struct.pack("<4I", 1, 2, 3, 4)
    n = codec_for(btf, names, 12)
    assert n.decode(b"ab\0\0cdef\0\0\0\0") == ("ab", "cdef", "")
    assert codec_for(btf, bools, 2).decode(b"\x01\x00") == (True, False)
    assert codec_for(btf, empty, 0).decode(b"") == ()


# ---------------------------------------------------------------- structs

def test_event_struct(b: Builder, c: dict[str, int]) -> None:
    ev = event_type(b, c)
    btf = b.build()
    codec = codec_for(btf, ev, 288)
    raw = EVENT.pack(12, 1, b"bash", b"/bin/ls\0" + b"\xaa" * 100, 99)
    v = codec.decode(memoryview(raw))
    assert isinstance(v, Record) and isinstance(v, tuple)
    assert (v.pid, v.ppid, v.comm, v.filename, v.ts) == (12, 1, "bash", "/bin/ls", 99)
    assert v[0] == 12 and v[-1] == 99 and len(v) == 5
    assert repr(v) == "event(pid=12, ppid=1, comm='bash', filename='/bin/ls', ts=99)"
    assert v._asdict() == {"pid": 12, "ppid": 1, "comm": "bash", "filename": "/bin/ls", "ts": 99}
    assert v._fields == ("pid", "ppid", "comm", "filename", "ts")
    assert v == codec.decode(raw) and hash(v) == hash(codec.decode(raw))
    assert v._replace(pid=13).pid == 13 and v._replace(pid=13).comm == "bash"
    back = pickle.loads(pickle.dumps(v))
    assert back == v and back.comm == "bash" and repr(back) == repr(v)
    clean = EVENT.pack(12, 1, b"bash", b"/bin/ls", 99)
    assert codec.encode(v) == clean
    assert codec.encode(v._asdict()) == clean
    assert codec.encode({"pid": 12, "comm": "bash"}) == EVENT.pack(12, 0, b"bash", b"", 0)
    assert codec.encode((12, 1)) == EVENT.pack(12, 1, b"", b"", 0)
    assert codec.encode(clean) == clean                      # raw bytes of the exact size
    with pytest.raises(MapError) as ei:
        codec.encode({"comm": "x" * 20})
    assert str(ei.value) == "event.comm: string of 20 bytes does not fit char[16]"
    with pytest.raises(MapError, match=r"event: struct event has no field 'pidd' \(fields: pid, ppid"):
        codec.encode({"pidd": 1})
    with pytest.raises(MapError, match="6 values for the 5 fields of struct event"):
        codec.encode((1, 2, 3, 4, 5, 6))
    with pytest.raises(MapError, match="expected a record, dict or tuple for struct event, got int"):
        codec.encode(5)
    with pytest.raises(MapError, match="288 raw bytes|raw bytes given"):
        codec.encode(b"\0" * 10)
    with pytest.raises(MapError, match="no field"):
        v._replace(nope=1)


def test_nested_records_and_asdict(b: Builder, c: dict[str, int]) -> None:
    inner = b.struct("point", 8, [("x", c["s32"], 0), ("y", c["s32"], 32)])
    arr = b.array(inner, 2)
    outer = b.struct("line", 20, [("id", c["u32"], 0), ("pts", arr, 32)])
    btf = b.build()
    codec = codec_for(btf, outer, 20)
    raw = struct.pack("<I4i", 1, -1, 2, 3, -4)
    v = codec.decode(raw)
    assert v.pts[1].y == -4 and type(v.pts[0]).__name__ == "point"
    assert v._asdict() == {"id": 1, "pts": ({"x": -1, "y": 2}, {"x": 3, "y": -4})}
    assert codec.encode(v) == raw
    assert codec.encode({"id": 1, "pts": [{"x": -1, "y": 2}, (3, -4)]}) == raw
    with pytest.raises(MapError, match=r"line\.pts\[1\]\.y: expected an integer"):
        codec.encode({"pts": [{}, {"y": "no"}]})


def test_anonymous_members_flatten(b: Builder, c: dict[str, int]) -> None:
    anon_u = b.union("", 4, [("ival", c["s32"], 0), ("uval", c["u32"], 0)])
    anon_s = b.struct("", 4, [("lo", c["u16"], 0), ("hi", c["u16"], 16)])
    t = b.struct("msg", 12, [("kind", c["u32"], 0), ("", anon_u, 32), ("", anon_s, 64)])
    btf = b.build()
    codec = codec_for(btf, t, 12)
    v = codec.decode(struct.pack("<IiHH", 3, -1, 1, 2))
    assert v._fields == ("kind", "ival", "uval", "lo", "hi")
    assert (v.kind, v.ival, v.uval, v.lo, v.hi) == (3, -1, 0xFFFFFFFF, 1, 2)
    assert codec.encode({"uval": 5, "hi": 9}) == struct.pack("<IIHH", 0, 5, 0, 9)


def test_unions(b: Builder, c: dict[str, int]) -> None:
    u = b.union("val", 8, [("small", c["u32"], 0), ("big", c["u64"], 0),
                           ("raw", b.array(c["u8"], 8), 0)])
    btf = b.build()
    codec = codec_for(btf, u, 8)
    raw = struct.pack("<Q", 0x1122334455667788)
    v = codec.decode(raw)
    assert (v.small, v.big, v.raw) == (0x55667788, 0x1122334455667788, raw)
    assert codec.encode(v) == raw
    assert codec.encode({"small": 1}) == b"\x01" + b"\0" * 7          # only the given member
    # from a record/tuple every member is written, the first last: it wins
    assert codec.encode((1, 0xFFFFFFFFFFFFFFFF, b"")) == b"\x01\0\0\0\xff\xff\xff\xff"
    assert codec.decode_many(raw * 3, 3) == [v, v, v]


def test_bitfields_kflag_and_int_encoding(b: Builder, c: dict[str, int]) -> None:
    kf = b.struct("kf", 8, [("a", c["u32"], 0, 3), ("b", c["s32"], 3, 5), ("c", c["u32"], 8, 24),
                            ("flag", c["bool"], 32, 1), ("", c["u32"], 33, 7),
                            ("d", c["u64"], 40, 24)], kflag=True)
    i3, i5 = b.int("unsigned int", 4, bits=3), b.int("int", 4, signed=True, bits=5)
    i24 = b.int("unsigned int", 4, bits=24)
    nk = b.struct("nk", 4, [("a", i3, 0), ("b", i5, 3), ("c", i24, 8)])
    btf = b.build()
    value = {"a": 5, "b": -3, "c": 0xABCDEF}
    raw = (5 | ((-3 & 0x1F) << 3) | (0xABCDEF << 8)).to_bytes(4, "little")
    k = codec_for(btf, kf, 8)
    n = codec_for(btf, nk, 4)
    assert n.encode(value) == raw
    assert n.decode(raw)._asdict() == value
    full = k.encode({**value, "flag": True, "d": 0x123456})
    assert full[:4] == raw and full[4] == 1 and full[5:] == (0x123456).to_bytes(3, "little")
    v = k.decode(full)
    assert v._fields == ("a", "b", "c", "flag", "d")        # unnamed padding dropped
    assert (v.a, v.b, v.c, v.flag, v.d) == (5, -3, 0xABCDEF, True, 0x123456)
    assert k.encode(v) == full
    with pytest.raises(MapError, match=r"kf\.a: 8 out of range for bitfield unsigned int:3"):
        k.encode({"a": 8})
    assert k.encode({"b": 31})[0] == 31 << 3                 # unsigned spelling accepted


def test_bitfield_straddling_and_enum_bitfield(b: Builder, c: dict[str, int]) -> None:
    e = b.enum("state", 4, {"IDLE": 0, "RUN": 2})
    t = b.struct("packed", 5, [("x", c["u8"], 0, 4), ("y", c["u32"], 4, 30), ("st", e, 34, 2)],
                 kflag=True)
    btf = b.build()
    codec = codec_for(btf, t, 5)
    raw = codec.encode({"x": 9, "y": (1 << 30) - 2, "st": "RUN"})
    v = codec.decode(raw)
    assert (v.x, v.y, v.st, v.st.name) == (9, (1 << 30) - 2, 2, "RUN")
    assert int.from_bytes(raw, "little") == 9 | (((1 << 30) - 2) << 4) | (2 << 34)


def test_duplicate_and_reserved_field_names(b: Builder, c: dict[str, int]) -> None:
    t = b.struct("odd", 12, [("count", c["u32"], 0), ("x", c["u32"], 32), ("x", c["u32"], 64)])
    btf = b.build()
    v = codec_for(btf, t, 12).decode(struct.pack("<3I", 1, 2, 3))
    assert v._fields == ("count", "x", "x_2") and v.count == 1 and v.x_2 == 3


def test_large_array_of_structs_uses_element_decoder(b: Builder, c: dict[str, int]) -> None:
    pair = b.struct("pair", 8, [("k", c["u32"], 0), ("v", c["u32"], 32)])
    arr = b.array(pair, 1000)
    t = b.struct("table", 8004, [("n", c["u32"], 0), ("items", arr, 32)])
    btf = b.build()
    codec = codec_for(btf, t, 8004)
    raw = struct.pack("<I", 1000) + b"".join(struct.pack("<II", i, i * 2) for i in range(1000))
    v = codec.decode(raw)
    assert v.n == 1000 and v.items[999] == (999, 1998) and v.items[999].v == 1998
    assert codec.encode(v) == raw
    assert codec.decode_many(raw * 2, 2) == [v, v]


def test_datasec_codec(b: Builder, c: dict[str, int]) -> None:
    v1, v2 = b.var("pid", c["u32"]), b.var("name", b.array(c["char"], 8))
    sec = b.datasec(".rodata", 12, [(v1, 0, 4), (v2, 4, 8)])
    btf = b.build()
    codec = codec_for(btf, sec, 12)
    v = codec.decode(struct.pack("<I8s", 3, b"abc"))
    assert (v.pid, v.name) == (3, "abc")
    assert codec.encode({"name": "x"}) == struct.pack("<I8s", 0, b"x")


# ---------------------------------------------------------------- no BTF, sizes

def test_raw_codecs() -> None:
    assert raw_codec(4).decode(b"\x01\0\0\0") == 1
    assert raw_codec(8).encode(5) == struct.pack("<Q", 5)
    assert raw_codec(2).decode(b"\xff\xff") == 0xFFFF
    assert raw_codec(3).decode(b"abc") == b"abc"
    assert raw_codec(3).encode(b"ab") == b"ab\0"
    assert raw_codec(3).encode(0x010203) == b"\x03\x02\x01"
    assert codec_for(None, 0, 16).decode(bytes(range(16))) == bytes(range(16))
    with pytest.raises(MapError, match="4 bytes do not fit bytes"):
        raw_codec(3).encode(b"abcd")
    assert raw_codec(4).decode_many(struct.pack("<3I", 1, 2, 3), 3) == [1, 2, 3]


def test_size_mismatch_falls_back_to_raw(b: Builder, c: dict[str, int],
                                         caplog: pytest.LogCaptureFixture) -> None:
    btf = b.build()
    with caplog.at_level(logging.WARNING, logger="pybpf.maps"):
        codec = codec_for(btf, c["u32"], 8)
    assert codec.decode(struct.pack("<Q", 9)) == 9
    assert "is 4 bytes, not 8" in caplog.text


def test_codecs_are_cached(b: Builder, c: dict[str, int]) -> None:
    ev = event_type(b, c)
    btf = b.build()
    assert codec_for(btf, ev, 288) is codec_for(btf, ev, 288)


# ---------------------------------------------------------------- buffers, batches

def test_decode_from_buffers_and_offsets(b: Builder, c: dict[str, int]) -> None:
    ev = event_type(b, c)
    btf = b.build()
    codec = codec_for(btf, ev, 288)
    raw = EVENT.pack(1, 2, b"a", b"b", 3)
    m = mmap.mmap(-1, 4096)
    m[100:388] = raw
    assert codec.decode(m, 100).comm == "a"
    assert codec.decode(bytearray(b"\0" * 8 + raw), 8).ts == 3
    from pybpf.sys.cdefs import ffi
    cbuf = ffi.new("char[]", raw)
    assert codec.decode(ffi.buffer(cbuf, 288)).pid == 1
    target = bytearray(300)
    codec.encode_into(target, {"pid": 7}, 12)
    assert struct.unpack_from("<I", target, 12)[0] == 7
    with pytest.raises(MapError, match="read-only"):
        codec.encode_into(memoryview(bytes(300)), {}, 0)
    with pytest.raises(MapError, match="does not fit a buffer of 300 bytes at offset 100"):
        codec.encode_into(target, {}, 100)
    m.close()


def test_decode_errors_are_map_errors(b: Builder, c: dict[str, int]) -> None:
    ev = event_type(b, c)
    btf = b.build()
    codec = codec_for(btf, ev, 288)
    with pytest.raises(MapError, match="buffer of 10 bytes too short for a 288-byte value at offset 0"):
        codec.decode(b"\0" * 10)
    with pytest.raises(MapError, match="too short"):
        codec.decode(b"\0" * 288, 1)
    with pytest.raises(MapError, match="cannot decode from int"):
        codec.decode(5)
    with pytest.raises(MapError, match="too short for 3 values"):
        codec.decode_many(b"\0" * 288 * 2, 3)
    with pytest.raises(MapError, match="too short"):
        raw_codec(4).decode(b"\0")


def test_decode_many_strides(b: Builder, c: dict[str, int]) -> None:
    pt = b.struct("pt", 6, [("a", c["u32"], 0), ("b", c["u16"], 32)])
    btf = b.build()
    codec = codec_for(btf, pt, 6)
    raw = b"".join(struct.pack("<IH2x", i, i + 1) for i in range(5))
    vals = codec.decode_many(raw, 5, 8)
    assert [(v.a, v.b) for v in vals] == [(i, i + 1) for i in range(5)]
    assert codec.decode_many(raw, 0, 8) == []
    assert raw_codec(8).decode_many(struct.pack("<QQ", 1, 2), 2) == [1, 2]
    assert codec_for(btf, c["u32"], 4).decode_many(struct.pack("<IIII", 1, 9, 2, 9), 2, 8) == [1, 2]
    with pytest.raises(MapError, match="stride 4 is smaller"):
        codec.decode_many(raw, 2, 4)


def test_big_endian_btf() -> None:
    b = Builder(endian=">")
    c = common(b)
    t = b.struct("be", 8, [("x", c["u32"], 0), ("h", c["u16"], 32, 12), ("l", c["u16"], 44, 4)],
                 kflag=True)
    btf = b.build()
    codec = codec_for(btf, t, 8)
    raw = codec.encode({"x": 1, "h": 0xABC, "l": 0xD})
    assert raw[:4] == b"\0\0\0\x01" and raw[4:6] == b"\xab\xcd"
    assert codec.decode(raw)._asdict() == {"x": 1, "h": 0xABC, "l": 0xD}


# ---------------------------------------------------------------- bad BTF

def test_undecodable_and_malformed_types(b: Builder, c: dict[str, int]) -> None:
    proto = b.func_proto()
    fwd = b.fwd("opaque")
    holder = b.struct("holder", 8, [("f", proto, 0)])
    loop_a = b.add(kind=Kind.TYPEDEF, name="a", type_id=len(b.types) + 2)
    b.add(kind=Kind.TYPEDEF, name="b", type_id=loop_a)
    outside = b.struct("outside", 4, [("x", c["u64"], 0)])
    btf = b.build()
    with pytest.raises(BTFError, match="FUNC_PROTO has no size"):
        codec_for(btf, proto, 8)
    with pytest.raises(BTFError, match="FWD has no size"):
        codec_for(btf, fwd, 8)
    with pytest.raises(BTFError):
        codec_for(btf, holder, 8)
    with pytest.raises(BTFError, match="chain too long"):
        codec_for(btf, loop_a, 4)
    with pytest.raises(BTFError, match="outside the 4-byte type"):
        codec_for(btf, outside, 4)
    with pytest.raises(BTFError, match="out of range"):
        codec_for(btf, 999, 4)


def test_self_containing_struct(b: Builder, c: dict[str, int]) -> None:
    sid = len(b.types) + 1
    b.struct("ouro", 8, [("x", c["u32"], 0), ("me", sid, 32)])
    btf = b.build()
    with pytest.raises(BTFError, match="contains itself|outside"):
        codec_for(btf, sid, 8)


def test_decode_speed_is_reported(b: Builder, c: dict[str, int]) -> None:
    """A loose floor (the measured figure goes in bench/): >= 100k events/s."""
    import time
    ev = event_type(b, c)
    btf = b.build()
    codec = codec_for(btf, ev, 288)
    mv = memoryview(EVENT.pack(12, 1, b"bash", b"/usr/lib/x86_64-linux-gnu/libc.so.6", 99) * 1000)
    dec = codec.decode
    t0 = time.perf_counter()
    for off in range(0, 288 * 1000, 288):
        dec(mv, off)
    rate = 1000 / (time.perf_counter() - t0)
    assert rate > 100_000, f"{rate:.0f} records/s"


# ---------------------------------------------------------------- global variables

def _rodata(b: Builder, c: dict[str, int]) -> int:
    pt = b.struct("point", 8, [("x", c["s32"], 0), ("y", c["s32"], 32)])
    v1, v2 = b.var("targ_pid", c["u32"]), b.var("origin", pt)
    v3 = b.var("comm", b.array(c["char"], 8))
    return b.datasec(".rodata", 20, [(v1, 0, 4), (v2, 4, 8), (v3, 12, 8)])


def test_global_vars_read_write(b: Builder, c: dict[str, int]) -> None:
    from pybpf.maps.globals import GlobalVars
    sec = _rodata(b, c)
    btf = b.build()
    buf = bytearray(20)
    g = GlobalVars(buf, btf, sec, writable=True)
    g.targ_pid = 42
    g.origin = {"x": -1, "y": 2}
    g["comm"] = "sh"
    assert buf == struct.pack("<Iii8s", 42, -1, 2, b"sh")
    assert (g.targ_pid, g.origin.y, g.comm) == (42, 2, "sh")
    assert dir(g) == ["comm", "origin", "targ_pid"] and len(g) == 3 and "comm" in g
    assert g._asdict() == {"targ_pid": 42, "origin": {"x": -1, "y": 2}, "comm": "sh"}
    assert repr(g) == ".rodata(targ_pid=42, origin=point(x=-1, y=2), comm='sh')"
    assert g.offset_of("comm") == 12 and g.writable and g.section == ".rodata"
    with pytest.raises(AttributeError, match=r"\.rodata has no variable 'targ_tid' \(known: comm, origin, targ_pid\)"):
        g.targ_tid = 1
    with pytest.raises(AttributeError, match="known"):
        _ = g.nope
    with pytest.raises(KeyError):
        g["nope"]
    with pytest.raises(MapError, match=r"rodata\.comm: string of 9 bytes does not fit char\[8\]"):
        g.comm = "123456789"
    with pytest.raises(MapError, match=r"rodata\.targ_pid: 4294967296 out of range"):
        g.targ_pid = 1 << 32


def test_global_vars_frozen_and_offsets(b: Builder, c: dict[str, int]) -> None:
    from pybpf.maps.globals import GlobalVars
    sec = _rodata(b, c)
    v1, v2 = b.var("a", c["u32"]), b.var("b", c["u64"])
    zeros = b.datasec(".bss", 0, [(v1, 0, 4), (v2, 0, 8)])      # as clang leaves them
    btf = b.build()
    ro = GlobalVars(memoryview(struct.pack("<Iii8s", 7, 0, 0, b"")), btf, sec, writable=False)
    assert ro.targ_pid == 7
    with pytest.raises(MapError) as ei:
        ro.targ_pid = 8
    assert str(ei.value) == ("rodata is frozen after load; set it with "
                             "pybpf.load(..., rodata={...}) or spec.rodata")
    buf = bytearray(16)
    unknown = GlobalVars(buf, btf, zeros, writable=True)
    with pytest.raises(MapError, match="offsets of its variables are unknown"):
        _ = unknown.a
    fixed = GlobalVars(buf, btf, zeros, writable=True, offsets={"a": 0, "b": 8})
    fixed.b = 5
    assert buf[8:] == struct.pack("<Q", 5) and fixed.a == 0
    spec_style = {(".bss", "a"): 0, (".bss", "b"): 8, (".data", "a"): 4}   # ObjectSpec.var_offsets
    assert GlobalVars(buf, btf, zeros, writable=True, offsets=spec_style).b == 5
    with pytest.raises(MapError, match="DATASEC"):
        GlobalVars(buf, btf, c["u32"], writable=True)


def test_text_memo_and_bulk_decoders(b: Builder, c: dict[str, int]) -> None:
    """char[] text is remembered per field (bounded); decode_many equals decode record by
    record, for plain records (map over the unpacked rows) and ones with text."""
    ev = event_type(b, c)
    pt = b.struct("pt", 8, [("a", c["u32"], 0), ("b", c["s32"], 32)])
    btf = b.build()
    codec = codec_for(btf, ev, 288)
    comms = [b"bash", b"python3", b"\xff\xfebad", b"bash"]
    raw = b"".join(EVENT.pack(i, 1, comm, b"/tmp/f%d\0stale" % i, 7) for i, comm in
                   enumerate(comms))
    many = codec.decode_many(raw, 4)
    assert many == [codec.decode(raw, i * 288) for i in range(4)]
    assert [e.comm for e in many] == ["bash", "python3", b"\xff\xfebad", "bash"]
    assert [e.filename for e in many] == [f"/tmp/f{i}" for i in range(4)]
    assert many[0].comm is many[3].comm               # the memo's one string
    # the memo holds at most its limit of entries, then starts over: values stay right
    distinct = b"".join(EVENT.pack(i, 0, b"c%05d" % i, b"", 0) for i in range(5000))
    assert [e.comm for e in codec.decode_many(distinct, 5000)] == [f"c{i:05d}" for i in range(5000)]
    plain = codec_for(btf, pt, 8)
    assert "map(" in plain.source
    rows = struct.pack("<Ii", 1, -1) + struct.pack("<Ii", 2, -2)
    assert plain.decode_many(rows, 2) == [plain.decode(rows), plain.decode(rows, 8)]
    assert plain.decode_many(rows, 2)[1] == (2, -2) and type(plain.decode_many(rows, 2)[0]).__name__ == "pt"
