"""CO-RE relocation results cached on disk, per (object BTF, kernel BTF) content hashes.

A relocation's outcome depends only on the object's BTF, the record (type id, access string,
kind) and the target BTF, so a warm start replays stored results: it neither reads the
kernel's BTF nor runs the relocator. The file sits next to the BTF index cache
(``$XDG_CACHE_HOME/pybpf/core-<object>-<kernel>``), one tab-separated line per record;
anything unreadable is ignored and recomputed. Errors (ambiguous relocations) are never
cached: they are raised again on the next run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence

from .kernel import (
    _debug,
    _write_atomic,
    cache_dir,
    cache_has,
    content_hash,
    kernel_btf_key,
    kernel_btf_path,
    known_key,
    modules_key,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .core import CoreRelocator, CoreResult
    from .ext import CoreRelo
    from .types import BTF

_MAGIC = "pybpf-core-results 4"   # bump when CoreResult contents change
# CoreResult fields, then the modules_key() the result was computed with ("" for a result
# that did not depend on module BTF)
_Entry = tuple[int, int, bool, str, int, int, int, str, bool, str, str]
_Key = tuple[int, str, int]                                # type id, access string, kind


def relocator(local: BTF, target: BTF | None, load_target: Callable[[], BTF],
              load_modules: Callable[[], Sequence[BTF]] | None = None) -> object:
    """The relocator a loader uses: an explicit ``target`` is relocated against directly
    (no module BTF, as libbpf does with an overridden vmlinux); otherwise the running
    kernel's results (vmlinux, then modules) come from (and go to) the disk cache."""
    if target is not None:
        from .core import CoreRelocator
        return CoreRelocator(local, target)
    return CachedRelocator(local, load_target, load_modules)


class CachedRelocator:
    """``CoreRelocator.relocate_section`` with results replayed from the disk cache."""

    def __init__(self, local: BTF, load_target: Callable[[], BTF],
                 load_modules: Callable[[], Sequence[BTF]] | None = None) -> None:
        self.local = local
        self._load_target = load_target
        self._load_modules = load_modules
        self._modules_key: str | None = None
        self._real: CoreRelocator | None = None
        self._prefix = f"core-{content_hash(local.raw)}-"
        self._file: str | None = None
        self._entries: dict[_Key, _Entry] | None = None
        self.hits = self.misses = 0

    @property
    def file(self) -> str:
        """``core-<object BTF hash>-<kernel BTF hash>`` in the cache directory."""
        if self._file is None:
            self._file = os.path.join(cache_dir(), self._prefix + kernel_btf_key())
        return self._file

    @property
    def entries(self) -> dict[_Key, _Entry]:
        """The stored results. On a first run (the kernel BTF's hash not known yet and no
        result of this object cached for any kernel) nothing is read, so the hash need not
        be computed before the relocations (it is made while the kernel BTF is parsed)."""
        if self._entries is None:
            if known_key(kernel_btf_path()) is None and not cache_has(self._prefix):
                self._entries = {}
            else:
                self._entries = _load(self.file)
        return self._entries

    def _relocator(self) -> CoreRelocator:
        if self._real is None:
            from .core import CoreRelocator
            self._real = CoreRelocator(self.local, self._load_target(), self._load_modules)
        return self._real

    def _mkey(self) -> str:
        if self._modules_key is None:
            self._modules_key = modules_key()
        return self._modules_key

    def compute(self, relo: CoreRelo, section: str = "") -> CoreResult:
        from .core import CoreResult
        key = (relo.type_id, relo.access_str, relo.kind)
        e = self.entries.get(key)
        if e is not None and (not e[10] or e[10] == self._mkey()):
            self.hits += 1
            orig, new, poison, reason, osize, nsize, tid, lname, validate, module, mkey = e
            return CoreResult(relo, section, orig, new, poison=poison, fail_reason=reason,
                              orig_size=osize, new_size=nsize, target_id=tid, local_name=lname,
                              validate=validate, modules=bool(mkey), module=module)
        self.misses += 1
        res = self._relocator().compute(relo, section)
        self.entries[key] = (res.orig_val, res.new_val, res.poison, res.fail_reason,
                             res.orig_size, res.new_size, res.target_id, res.local_name,
                             res.validate, res.module, self._mkey() if res.modules else "")
        return res

    def relocate_section(self, insns: bytearray, relos: Iterable[CoreRelo],
                         section: str = "") -> list[CoreResult]:
        from .core import CoreRelocator
        apply = CoreRelocator(self.local, []).apply     # patching needs no target BTF
        misses = self.misses
        out = []
        for relo in relos:
            res = self.compute(relo, section)
            apply(insns, relo, res)
            out.append(res)
        if self.misses != misses:
            _save(self.file, self.entries)
        return out


def _clean(s: str) -> str:
    return s.replace("\t", " ").replace("\n", " ")


def _save(file: str, entries: dict[_Key, _Entry]) -> None:
    lines = [_MAGIC]
    for (tid, access, kind), (orig, new, poison, reason, osz, nsz, target, lname,
                              validate, module, mkey) in entries.items():
        lines.append(f"{tid}\t{_clean(access)}\t{kind}\t{orig}\t{new}\t{int(poison)}\t{osz}\t"
                     f"{nsz}\t{target}\t{_clean(lname)}\t{int(validate)}\t{module}\t{mkey}\t"
                     f"{_clean(reason)}")
    _write_atomic(file, ("\n".join(lines) + "\n").encode())


def _load(file: str) -> dict[_Key, _Entry]:
    try:
        with open(file, "rb") as f:
            text = f.read().decode()
    except (OSError, UnicodeDecodeError):
        return {}
    lines = text.split("\n")
    if lines[0] != _MAGIC or lines[-1] != "":
        return {}
    out: dict[_Key, _Entry] = {}
    try:
        for line in lines[1:-1]:
            (tid, access, kind, orig, new, poison, osz, nsz, target, lname, validate, module,
             mkey, reason) = line.split("\t")
            out[(int(tid), access, int(kind))] = (int(orig), int(new), poison == "1", reason,
                                                  int(osz), int(nsz), int(target), lname,
                                                  validate == "1", module, mkey)
    except ValueError:
        _debug("CO-RE result cache %s is corrupt: ignored", file)
        return {}
    return out
