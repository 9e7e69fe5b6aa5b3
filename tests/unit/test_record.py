"""pybpf._record: the slotted records that stand in for dataclasses on the load path behave
as the frozen/mutable dataclasses they replaced."""

from __future__ import annotations

import copy
import pickle
from enum import IntEnum, IntFlag

import pytest

from pybpf._record import simple_enum
from pybpf.attach.sections import SectionDef, lookup
from pybpf.btf.core import CoreResult
from pybpf.btf.ext import BTFExt, CoreRelo, LineInfo
from pybpf.sys.consts import MapFlags, MapType, ProgType


def test_frozen_records_compare_hash_repr_and_refuse_assignment() -> None:
    a, b = CoreRelo(8, 3, "0:1", 0), CoreRelo(8, 3, "0:1", 0)
    assert a == b and hash(a) == hash(b) and a != CoreRelo(16, 3, "0:1", 0)
    assert repr(a) == "CoreRelo(insn_off=8, type_id=3, access_str='0:1', kind=0)"
    assert a != (8, 3, "0:1", 0)
    with pytest.raises(AttributeError):
        a.kind = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del a.kind
    assert a._replace(insn_off=16) == CoreRelo(16, 3, "0:1", 0) and a.insn_off == 8
    with pytest.raises(TypeError):
        a._replace(nope=1)
    assert pickle.loads(pickle.dumps(a)) == a and copy.copy(a) == a
    li = LineInfo(0, 1, 2, (7 << 10) | 3, "f.c", "x = 1;")
    assert (li.line, li.col, li.file_name) == (7, 3, "f.c")
    assert LineInfo(0, 1, 2, 3) == LineInfo(0, 1, 2, 3, "", "")


def test_core_result_defaults_and_loader_annotation() -> None:
    r = CoreResult(CoreRelo(0, 1, "0", 0), "tp/x", 4, 8)
    assert (r.poison, r.validate, r.program, r.target_btf, r.module) == (False, True, "", None, "")
    object.__setattr__(r, "program", "prog")     # as the loader names a result's program
    assert r.program == "prog"


def test_mutable_record_and_section_rows() -> None:
    e = BTFExt()
    e.core_relos["s"] = []
    assert e == BTFExt(core_relos={"s": []}) and e.func_info == {}
    with pytest.raises(TypeError):
        hash(e)
    sdef, target = lookup("tracepoint/syscalls/sys_enter_openat")
    assert isinstance(sdef, SectionDef) and target == "syscalls/sys_enter_openat"
    assert (sdef.prog_type, sdef.attach, sdef.load_attach_type) == (ProgType.TRACEPOINT,
                                                                    "tracepoint", False)


def test_simple_enums_are_the_enums_a_class_statement_makes() -> None:
    assert issubclass(MapType, IntEnum) and issubclass(MapFlags, IntFlag)
    assert MapType(27) is MapType.RINGBUF and repr(MapType.HASH) == "<MapType.HASH: 1>"
    assert MapType.__doc__ == "enum bpf_map_type." and MapType.__module__ == "pybpf.sys.consts"
    assert repr(MapFlags(5)) == "<MapFlags.NO_PREALLOC|NUMA_NODE: 5>"

    @simple_enum(IntEnum)
    class Small:
        """doc"""
        A = 1
        B = 2

    assert [(m.name, m.value) for m in Small] == [("A", 1), ("B", 2)] and Small.__doc__ == "doc"
    with pytest.raises(ValueError):
        Small(3)


def test_spec_records_are_dataclasses_to_the_dataclasses_module() -> None:
    import dataclasses

    from pybpf.attach.link import LinkInfo
    from pybpf.spec import MapSpec, ObjectSpec, ProgramSpec, RelocSpec
    r = RelocSpec(3, "map", "events")
    assert dataclasses.is_dataclass(r) and dataclasses.replace(r, target="x") == RelocSpec(3, "map", "x")
    assert [f.name for f in dataclasses.fields(r)] == ["insn", "kind", "target", "addend"]
    m = MapSpec("m", MapType.HASH, 4, 8, 16)
    assert m.init_slots == {} and m.init_slots is not MapSpec("n", MapType.HASH, 4, 8, 1).init_slots
    assert dataclasses.asdict(m)["section"] == ".maps" and dataclasses.replace(m, max_entries=9).max_entries == 9
    assert repr(r) == "RelocSpec(insn=3, kind='map', target='events', addend=0)"
    assert m == copy.deepcopy(m) and pickle.loads(pickle.dumps(m)) == m and m != MapSpec("m", MapType.HASH, 4, 8, 17)
    m.max_entries = 1 << 16                           # specs are edited before load
    p = ProgramSpec("p", "tp/a/b", b"", ProgType.TRACEPOINT)
    assert (p.relocs, p.origins, p.license, p.autoattach) == ([], [], "GPL", True)
    fields = {f.name: f for f in dataclasses.fields(ObjectSpec)}
    assert fields["subprogs"].default_factory is dict and fields["btf"].default is dataclasses.MISSING
    info = LinkInfo(1, 2, 3)
    assert info.details == {} and dataclasses.replace(info, id=7).id == 7
    assert LinkInfo.__dataclass_params__.frozen
    with pytest.raises(AttributeError):
        info.id = 5  # type: ignore[misc]
