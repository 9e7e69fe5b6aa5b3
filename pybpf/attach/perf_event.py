"""Sampling programs (SEC("perf_event")) on perf events: one link per CPU in one MultiLink."""

from __future__ import annotations

import errno

from ..errors import AttachError, BPFError
from ..sys.consts import PerfFlag, PerfSwConfig, PerfType
from ..sys.cpus import online_cpus
from .link import Link, MultiLink, PerfLink, close_multi_on_error, perf_open

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_FREQUENCY = 49


def sample_plan(frequency: int | None, period: int | None, cpu: int | None, pid: int,
                cpus: tuple[int, ...]) -> tuple[int, int, list[int]]:
    """(sample_period field, attr flags, CPUs to open on) for a sampling request (pure).

    A process (``pid`` != -1) without a ``cpu`` is followed on whichever CPU it runs: one
    event with cpu = -1. Otherwise one event per CPU (or the one ``cpu``).
    """
    if frequency and period:
        raise AttachError("give either frequency (Hz) or period (events), not both")
    if (frequency is not None and frequency <= 0) or (period is not None and period <= 0):
        raise AttachError("frequency and period must be positive")
    if cpu is not None and cpu not in cpus:
        raise AttachError(f"CPU {cpu} is not online (online: {cpus[0]}-{cpus[-1]})")
    value = period or frequency or DEFAULT_FREQUENCY
    flags = 0 if period else int(PerfFlag.FREQ)
    if cpu is not None:
        return value, flags, [cpu]
    return value, flags, [-1] if pid != -1 else list(cpus)


def attach_perf_event(prog: Any, type: int = PerfType.SOFTWARE,  # noqa: A002 - perf's own name
                      config: int = PerfSwConfig.CPU_CLOCK, frequency: int | None = None,
                      period: int | None = None, cpu: int | None = None, pid: int = -1,
                      cookie: int = 0) -> Link:
    """Sample at ``frequency`` Hz (or every ``period`` events) on every CPU, one ``cpu``
    or one process (``pid``). The default is the software cpu-clock at 49 Hz."""
    value, flags, cpus = sample_plan(frequency, period, cpu, pid, online_cpus())
    links: list[Link] = []
    try:
        for c in cpus:
            where = f"cpu{c}" if c >= 0 else f"pid {pid}"
            try:
                fd = perf_open(type, config, pid=pid, cpu=c, sample_period=value, flags=flags,
                               what=f"perf event type {type} config {config} on {where}")
            except BPFError as e:
                if e.errno == errno.ENOENT or e.errno == errno.EOPNOTSUPP:
                    raise AttachError(f"perf event type {type} config {config} is not available "
                                      f"here (no such PMU/counter: VMs often lack hardware "
                                      f"counters; use type=PerfType.SOFTWARE)", e.errno) from e
                if e.errno == errno.ESRCH:
                    raise AttachError(f"no process {pid}", e.errno) from e
                raise
            links.append(PerfLink(prog.fd, fd, f"{prog.name} -> perf_event {where}", cookie))
    except BaseException:
        close_multi_on_error(links)
        raise
    unit = "Hz" if flags else " events"
    scope = f"pid {pid}" if pid != -1 else f"{len(cpus)} CPUs"
    return MultiLink(links, f"{prog.name} -> perf_event {type}/{config} @{value}{unit} on {scope}")
