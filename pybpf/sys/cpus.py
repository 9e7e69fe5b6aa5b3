"""CPU lists from sysfs (possible/online), parsed once per process."""

from __future__ import annotations

import functools


def parse_cpu_list(text: str) -> list[int]:
    """Parse "0-3,5,7-8" into [0, 1, 2, 3, 5, 7, 8]."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


@functools.cache
def possible_cpus() -> tuple[int, ...]:
    with open("/sys/devices/system/cpu/possible") as f:
        return tuple(parse_cpu_list(f.read()))


@functools.cache
def online_cpus() -> tuple[int, ...]:
    with open("/sys/devices/system/cpu/online") as f:
        return tuple(parse_cpu_list(f.read()))
