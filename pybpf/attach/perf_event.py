"""Sampling programs (SEC("perf_event")) on perf events: one link per CPU in one MultiLink."""

from __future__ import annotations

from typing import Any

from ..errors import AttachError
from ..sys.consts import PerfFlag, PerfSwConfig, PerfType
from ..sys.cpus import online_cpus
from ..sys.perf import perf_event_open
from .link import Link, MultiLink, PerfLink


def attach_perf_event(prog: Any, type: int = PerfType.SOFTWARE,  # noqa: A002 - perf's own name
                      config: int = PerfSwConfig.CPU_CLOCK, frequency: int | None = None,
                      period: int | None = None, cpu: int | None = None, pid: int = -1) -> Link:
    """Sample at ``frequency`` Hz (or every ``period`` events) on every CPU, or ``cpu``."""
    if frequency and period:
        raise AttachError("give either frequency or period, not both")
    sample = frequency or period or 49
    flags = int(PerfFlag.FREQ) if not period else 0
    cpus = [cpu] if cpu is not None else list(online_cpus())
    links = []
    try:
        for c in cpus:
            fd = perf_event_open(type, config, pid=pid, cpu=c, sample_period=sample, flags=flags,
                                 op=f"open perf event type {type} config {config} on cpu {c}")
            links.append(PerfLink(prog.fd, fd, f"{prog.name} -> perf_event cpu{c}"))
    except BaseException:
        for link in links:
            link.close()
        raise
    return MultiLink(links, f"{prog.name} -> perf_event {type}/{config} @{sample}"
                     f"{'Hz' if flags else ' period'} on {len(cpus)} CPUs")
