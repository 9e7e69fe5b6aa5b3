"""Block devices as the block tools' BPF programs number them (biolatency, biosnoop)."""

from __future__ import annotations

import pybpf

MINORBITS = 20                 # the kernel's dev_t: major << 20 | minor


def disks() -> dict[int, str]:
    """Block devices by the kernel's dev_t, from /proc/partitions."""
    out = {}
    with open("/proc/partitions") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 4 and parts[0].isdigit():
                out[int(parts[0]) << MINORBITS | int(parts[1])] = parts[3]
    return out


def disk_dev(name: str) -> int:
    """The dev_t of disk ``name`` (``-d DISK``), or an error listing the disks."""
    by_name = {n: d for d, n in disks().items()}
    if name not in by_name:
        raise pybpf.AttachError(f"unknown disk {name!r}; disks: "
                                f"{', '.join(sorted(by_name)) or 'none'}")
    return by_name[name]


def dev_namer():  # noqa: ANN201
    """A function dev_t -> disk name ("major,minor" for one unknown at start)."""
    names = disks()
    return lambda d: names.get(d, f"{d >> MINORBITS},{d & ((1 << MINORBITS) - 1)}")
