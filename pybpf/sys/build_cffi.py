"""Generate pybpf/sys/_cffi_abi.py: cffi's out-of-line ABI mode (no C compiler needed).

The generated module holds the parsed declarations, so importing pybpf never runs
pycparser (about 75 ms per process). Run via `make cffi` after editing cdefs.CDEF.
"""

from __future__ import annotations

from pathlib import Path

from cffi import FFI

from pybpf.sys.cdefs_src import CDEF


def main() -> None:
    ffi = FFI()
    ffi.cdef(CDEF)
    ffi.set_source("pybpf.sys._cffi_abi", None)
    out = Path(__file__).with_name("_cffi_abi.py")
    ffi.emit_python_code(str(out))


if __name__ == "__main__":
    main()
