"""Kernel BTF without a cached index: the types are scanned only as far as lookups go, the
blob is hashed beside that in a thread, and the index lands under the content hash once
something walks all of it; later runs that know the hash read the index instead."""

from __future__ import annotations

import threading

from pybpf.btf import kernel as K
from pybpf.btf.parse import Index, LazyIndex, build_index
from tests.unit.test_btf_parse import VMLINUX, has_vmlinux


@has_vmlinux
def test_first_run_scans_lazily_and_hashes_in_the_background(tmp_path, monkeypatch):
    data = open(VMLINUX, "rb").read()  # noqa: SIM115
    path = tmp_path / "vmlinux"
    path.write_bytes(data)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(K, "_keys", {})
    monkeypatch.setattr(K, "_pending", {})
    real, threads = K.content_hash, []

    def spy(d: bytes) -> str:
        threads.append(threading.current_thread().name)
        return real(d)

    monkeypatch.setattr(K, "content_hash", spy)
    btf = K.parse_cached(str(path), data)
    assert isinstance(btf.index, LazyIndex)
    ts = btf.find("task_struct")
    assert ts.name == "task_struct" and btf[ts.members[0].type_id] is not None
    assert btf.index.full is None, "a lookup walked the whole blob"
    key = real(data)
    assert K.known_key(str(path)) == key          # joins the hashing thread
    assert threads == ["pybpf-btf-hash"]
    idx_file = tmp_path / "cache" / "pybpf" / f"btf-{key}.idx"
    assert not idx_file.exists()
    full = build_index(data)
    assert btf.count == len(full.words)           # walks the rest: the index is saved
    assert list(btf.index.words) == list(full.words)
    assert list(btf.index.names) == list(full.names)
    assert idx_file.exists()
    # the hash is now memoized for this file: the next parse reads the index, no hashing
    monkeypatch.setattr(K, "_keys", {})
    threads.clear()
    again = K.parse_cached(str(path), data)
    assert isinstance(again.index, Index) and threads == []
    assert again.find("task_struct").members == ts.members


@has_vmlinux
def test_lazy_lookups_match_the_full_index():
    from pybpf.btf.parse import parse_btf
    data = open(VMLINUX, "rb").read()  # noqa: SIM115
    lazy, full = parse_btf(data, lazy=True), parse_btf(data)
    names = ("task_struct", "trace_event_raw_sys_enter", "file", "sk_buff", "pt_regs", "u32",
             "jiffies", "bpf_prog", "no_such_type_anywhere")
    for i, name in enumerate(names):
        assert lazy.ids_by_name(name) == full.ids_by_name(name), name
        # two lookups search the raw section; the third walks the rest and uses the index
        assert (lazy.index.full is None) == (i < 2), name
    last = full.end_id - 1
    assert lazy[last].name == full[last].name and lazy.end_id == full.end_id
