"""The cffi FFI over the kernel layouts in cdefs_src.py, in out-of-line ABI mode.

``_cffi_abi.py`` is generated from cdefs_src.CDEF by build_cffi.py (``make cffi``) and
committed: importing it needs neither a C compiler nor pycparser.
"""

from __future__ import annotations

try:
    from ._cffi_abi import ffi
except ImportError:  # pragma: no cover - a checkout whose generated module is missing
    from cffi import FFI

    from .cdefs_src import CDEF
    ffi = FFI()
    ffi.cdef(CDEF)

libc = ffi.dlopen(None)
