"""Kernel BTF on a first run (empty cache): the blob is hashed beside the type scan, and
the index still lands under the content hash; with any index cached, the hash comes first
so that the cached index can be found."""

from __future__ import annotations

import threading

from pybpf.btf import kernel as K
from tests.unit.test_btf_parse import VMLINUX, has_vmlinux


@has_vmlinux
def test_first_run_hashes_beside_the_scan(tmp_path, monkeypatch):
    data = open(VMLINUX, "rb").read()  # noqa: SIM115
    path = tmp_path / "vmlinux"
    path.write_bytes(data)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(K, "_keys", {})
    real, threads = K.content_hash, []

    def spy(d: bytes) -> str:
        threads.append(threading.current_thread().name)
        return real(d)

    monkeypatch.setattr(K, "content_hash", spy)
    btf = K.parse_cached(str(path), data)
    assert threads == ["pybpf-btf-hash"]
    key = real(data)
    assert K.known_key(str(path)) == key
    assert (tmp_path / "cache" / "pybpf" / f"btf-{key}.idx").exists()
    assert btf.find("task_struct").name == "task_struct"
    # a second file, with an index now cached: hashed first, in the caller's thread
    other = tmp_path / "vmlinux2"
    other.write_bytes(data)
    threads.clear()
    K.parse_cached(str(other), data)
    assert threads == [threading.current_thread().name]
    assert K.known_key(str(other)) == key
