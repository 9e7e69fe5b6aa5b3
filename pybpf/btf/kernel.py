"""The running kernel's BTF (vmlinux and modules), parsed once per process.

The type index of vmlinux (the only O(types) part of parsing) is cached on disk in
``$XDG_CACHE_HOME/pybpf`` (or ``~/.cache/pybpf``), keyed by the BTF's content hash
(BLAKE2b of the whole blob). Hashing 5 MB costs a few ms, so the hash of a file is memoized
under its identity: boot id, kernel release and size for /sys/kernel/btf/* (which cannot
change without a reboot), or path, inode, size and mtime for a recorded file. An unwritable
cache is silently skipped.
"""

from __future__ import annotations

import os
import struct
from array import array
from collections.abc import Callable

from ..errors import BTFError
from .parse import Index, parse_btf
from .types import BTF

try:                                  # the builtin module: no OpenSSL load at import
    from _blake2 import blake2b
except ImportError:                   # pragma: no cover
    from hashlib import blake2b

_cache: dict[str, BTF] = {}   # explicit per-process cache: path -> parsed BTF
_keys: dict[str, str] = {}    # path -> content hash
_pending: dict[str, Callable[[], str]] = {}   # path -> its hash, being computed
_MAGIC = b"PYBPFIX2"
_HEX = frozenset("0123456789abcdef")


def _debug(msg: str, *args: object) -> None:
    """Log at debug level; ``logging`` is imported only when there is something to say."""
    import logging
    logging.getLogger("pybpf.btf").debug(msg, *args)


def kernel_btf_path() -> str:
    """``$PYBPF_KERNEL_BTF`` (recorded BTF for tests) or /sys/kernel/btf/vmlinux."""
    return os.environ.get("PYBPF_KERNEL_BTF", "/sys/kernel/btf/vmlinux")


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pybpf")


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            if path.startswith("/sys/kernel/btf/"):
                data = _mapped_copy(f.fileno())
                if data is not None:
                    return data
            return f.read()
    except OSError as e:
        raise BTFError(f"cannot read kernel BTF {path}: {e.strerror} (kernel built without "
                       f"CONFIG_DEBUG_INFO_BTF?)") from e


def _mapped_copy(fd: int) -> bytes | None:
    """The file's bytes through a private read-only mapping (kernels from 6.16 allow one on
    /sys/kernel/btf/vmlinux; sysfs read() returns 4 KiB a call, ~1400 calls for it), or
    None where the kernel refuses the mapping."""
    import mmap
    try:
        size = os.fstat(fd).st_size
        with mmap.mmap(fd, size, mmap.MAP_PRIVATE, mmap.PROT_READ) as m:
            data = m[:]
    except (OSError, ValueError):
        return None
    return data if len(data) == size else None


def content_hash(data: bytes) -> str:
    """The cache key of a BTF blob: a hash of all of it."""
    return blake2b(data, digest_size=20).hexdigest()


def _identity(path: str) -> str | None:
    """What pins the content of ``path`` without reading it (None: not stat-able)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if path.startswith("/sys/kernel/btf/"):
        try:
            with open("/proc/sys/kernel/random/boot_id", "rb") as f:
                boot = f.read().strip().decode()
        except OSError:
            return None
        u = os.uname()
        return f"sysfs\0{path}\0{st.st_size}\0{boot}\0{u.release}\0{u.version}"
    return f"file\0{path}\0{st.st_dev}\0{st.st_ino}\0{st.st_size}\0{st.st_mtime_ns}"


def _memo_file(ident: str) -> str:
    return os.path.join(cache_dir(), f"btfkey-{blake2b(ident.encode(), digest_size=12).hexdigest()}")


def known_key(path: str) -> str | None:
    """The content hash of ``path`` if it is known without hashing: memoized in this process
    or recorded in the cache for the file's identity."""
    key = _keys.get(path)
    if key is not None:
        return key
    pending = _pending.pop(path, None)
    if pending is not None:         # hashed in the background since the blob was read
        key = pending()
        _remember(path, key)
        return key
    memo = _memo_of(path)
    if memo:
        try:
            with open(memo, "rb") as f:
                raw = f.read(64).decode("ascii").strip()
        except (OSError, UnicodeDecodeError):
            raw = ""
        if len(raw) == 40 and all(c in _HEX for c in raw):
            _keys[path] = raw
            return raw
    return None


def _memo_of(path: str) -> str:
    ident = _identity(path)
    return _memo_file(ident) if ident is not None else ""


def _remember(path: str, key: str) -> None:
    _keys[path] = key
    memo = _memo_of(path)
    if memo:
        _write_atomic(memo, key.encode())


def btf_key(path: str, data: bytes | None = None) -> str:
    """Content hash of the BTF at ``path`` (memoized per file identity, so a warm start
    need not read the blob). ``data``: the blob, if already read."""
    key = known_key(path)
    if key is None:
        key = content_hash(data if data is not None else _read(path))
        _remember(path, key)
    return key


def cache_has(prefix: str) -> bool:
    """Whether any cache file name starts with ``prefix`` (False: nothing to look up)."""
    try:
        with os.scandir(cache_dir()) as it:
            return any(e.name.startswith(prefix) for e in it)
    except OSError:
        return False


def _hash_in_background(data: bytes) -> Callable[[], str]:
    """Start hashing ``data`` in a thread (BLAKE2 releases the GIL on large buffers, so it
    runs beside the caller's Python work on another CPU); the result joins it."""
    import threading
    out: list[str] = []
    try:
        t = threading.Thread(target=lambda: out.append(content_hash(data)),
                             name="pybpf-btf-hash", daemon=True)
        t.start()
    except RuntimeError:            # no threads here: hash when asked
        return lambda: content_hash(data)

    def result() -> str:
        t.join()
        return out[0] if out else content_hash(data)
    return result


def kernel_btf_key() -> str:
    """Content hash of the running kernel's BTF (see :func:`btf_key`)."""
    return btf_key(kernel_btf_path())


def _write_atomic(file: str, data: bytes) -> None:
    tmp = f"{file}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(file), exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, file)
    except OSError as e:
        _debug("cache file %s not written (%s)", file, e)
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _load_index(file: str) -> Index | None:
    """One read; the arrays are filled straight from the bytes."""
    try:
        with open(file, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    if raw[:8] != _MAGIC or len(raw) < 12:
        return None
    (n,) = struct.unpack_from("<I", raw, 8)
    if len(raw) != 12 + 8 * n:
        return None
    view = memoryview(raw)
    words, names = array("I"), array("I")
    words.frombytes(view[12:12 + 4 * n])
    names.frombytes(view[12 + 4 * n:])
    return Index(words, names)


def _save_index(file: str, idx: Index) -> None:
    _write_atomic(file, _MAGIC + struct.pack("<I", len(idx.words)) + idx.words.tobytes()
                  + idx.names.tobytes())


def parse_cached(path: str, data: bytes, base: BTF | None = None, use_cache: bool = True) -> BTF:
    """Parse ``data`` (read from ``path``) with the on-disk index cache.

    A cached index (under the blob's content hash) spares every scan. Without one, the types
    are scanned lazily, only as far as lookups go (a tool's CO-RE reaches ~10% of vmlinux);
    the index is saved if some caller ends up walking all of it (a dump, module BTF on
    top). When the content hash is not known yet, the blob is hashed in a background thread
    (BLAKE2 releases the GIL) and joined when something needs the key."""
    if use_cache:
        key = known_key(path)
        if key is None:
            _pending[path] = _hash_in_background(data)
        else:
            idx = _load_index(os.path.join(cache_dir(), f"btf-{key}.idx"))
            if idx is not None:
                try:
                    return parse_btf(data, base, index=idx)
                except BTFError:
                    _debug("stale BTF index cache for %s ignored", path)
    btf = parse_btf(data, base, lazy=True)
    if use_cache:
        btf.index.on_complete = lambda full: _save_index(
            os.path.join(cache_dir(), f"btf-{btf_key(path, data)}.idx"), full)
    return btf


def load_kernel(use_cache: bool = True) -> BTF:
    """vmlinux BTF, shared by every caller in this process."""
    path = kernel_btf_path()
    btf = _cache.get(path)
    if btf is None:
        btf = _cache[path] = parse_cached(path, _read(path), use_cache=use_cache)
        btf.name = "vmlinux"
    return btf


def load_module(name: str) -> BTF:
    """A module's split BTF on top of vmlinux (/sys/kernel/btf/<name>)."""
    path = f"/sys/kernel/btf/{name}"
    btf = _cache.get(path)
    if btf is None:
        btf = _cache[path] = parse_btf(_read(path), base=load_kernel())
        btf.name = name
    return btf


def module_names() -> list[str]:
    """Loaded modules that have BTF (none when ``$PYBPF_KERNEL_BTF`` replaces vmlinux)."""
    path = kernel_btf_path()
    if path != "/sys/kernel/btf/vmlinux":
        return []
    try:
        return sorted(n for n in os.listdir(os.path.dirname(path)) if n != "vmlinux")
    except OSError:
        return []


def load_modules() -> list[BTF]:
    """Every loaded module's split BTF (a module unloaded meanwhile is left out)."""
    out = []
    for name in module_names():
        try:
            out.append(load_module(name))
        except BTFError as e:
            _debug("module BTF %s skipped: %s", name, e)
    return out


def modules_key() -> str:
    """Identity of the set of loaded modules' BTFs (names, inodes, sizes): a reloaded
    module gets a new sysfs inode, so results computed against modules go stale with it."""
    parts = []
    for name in module_names():
        try:
            st = os.stat(f"/sys/kernel/btf/{name}")
        except OSError:
            continue
        parts.append(f"{name}:{st.st_ino}:{st.st_size}")
    return blake2b("\n".join(parts).encode(), digest_size=10).hexdigest()
