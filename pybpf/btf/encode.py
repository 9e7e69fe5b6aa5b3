"""BTF back to bytes for the kernel: DATASEC fix-ups (as libbpf does) and sanitizing."""

from __future__ import annotations

import logging
import struct

from .types import BTF, Kind

log = logging.getLogger("pybpf.btf")


def prepare_for_kernel(btf: BTF, section_sizes: dict[str, int],
                       var_offsets: dict[tuple[str, str], int]) -> bytes:
    """The object's BTF with DATASEC sizes and VAR offsets filled from the ELF.

    clang leaves some DATASEC sizes (and, for some sections, variable offsets) at zero;
    the kernel rejects those. Patched in place in a copy of the raw blob, so string
    offsets (used by line_info) stay valid.
    """
    raw = bytearray(btf.raw)
    e = btf.endian
    hdr_len = struct.unpack_from(e + "I", raw, 4)[0]
    type_off = struct.unpack_from(e + "I", raw, 8)[0]
    for i, pos in enumerate(btf.offsets):
        tid = btf.start_id + i
        t = btf[tid]
        if t.kind != Kind.DATASEC:
            continue
        size = section_sizes.get(t.name)
        if size is not None and t.size == 0:
            struct.pack_into(e + "I", raw, pos + 8, size)
        for j, vi in enumerate(t.secinfos):
            var = btf[vi.type_id]
            off = var_offsets.get((t.name, var.name))
            if off is not None and off != vi.offset:
                struct.pack_into(e + "I", raw, pos + 12 + 12 * j + 4, off)
    del hdr_len, type_off
    return bytes(raw)
