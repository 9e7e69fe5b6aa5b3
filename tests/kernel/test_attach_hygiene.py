"""Leave nothing behind: fds, legacy tracefs events, stale events of dead processes, signals.

Each detach waits for the kernel's RCU grace periods (tasks-trace RCU for uprobes and
tracepoints: 70-160 ms a cycle on the dev VM), so the 10,000-cycle soaks run in 8 threads
(which also exercises the registry and legacy event names under concurrency) and are
marked slow: about 15 minutes each here. PYBPF_HYGIENE_CYCLES changes the count.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import pybpf
from pybpf.attach.probes import pybpf_events, write_event
from tests.conftest import ROOT, obj_path, open_fds, wait_child

pytestmark = pytest.mark.kernel

CYCLES = int(os.environ.get("PYBPF_HYGIENE_CYCLES", "10000"))
THREADS = 8

ADDER_C = r"""
#include <stdio.h>
#include <stdlib.h>
__attribute__((noinline)) int pybpf_add(int a, int b) { return a + b; }
int main(int argc, char **argv)
{
	printf("%d\n", pybpf_add(atoi(argv[1]), atoi(argv[2])));
	return 0;
}
"""


@pytest.fixture(scope="module")
def adder(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("adder")
    (d / "adder.c").write_text(ADDER_C)
    subprocess.run(["gcc", "-O1", "-o", str(d / "adder"), str(d / "adder.c")], check=True)
    return str(d / "adder")


def ours(kind: str, pid: int | None = None) -> list[str]:
    pid = os.getpid() if pid is None else pid
    return [name for name, p in pybpf_events(kind) if p == pid]


def _uprobe_cycles(adder: str, cycles: int) -> None:
    before = open_fds()
    with pybpf.load(obj_path("attach_extra")) as o:
        prog = o.programs["up_count"]

        def work(n: int) -> None:
            for k in range(n):
                prog.attach_uprobe(adder, "pybpf_add", legacy=k % 2 == 1).close()
        with ThreadPoolExecutor(THREADS) as ex:
            list(ex.map(work, [cycles // THREADS + (i < cycles % THREADS) for i in range(THREADS)]))
        with prog.attach_uprobe(adder, "pybpf_add"):          # still works afterwards
            subprocess.run([adder, "1", "2"], check=True, capture_output=True)
        assert o.bss.up_hits == 1
    gc.collect()
    assert open_fds() - before == set()
    assert ours("uprobe") == [] and ours("kprobe") == []


def _tracepoint_cycles(cycles: int) -> None:
    before = open_fds()
    objs = [pybpf.load(obj_path("attach_extra"), rodata={"targ_pid": os.getpid()})
            for _ in range(THREADS)]                # one program per thread: the kernel takes
    try:                                            # a program once per tracepoint
        def work(i: int) -> None:
            prog = objs[i].programs["tp_cookie_prog"]
            for _ in range(cycles // THREADS + (i < cycles % THREADS)):
                prog.attach().close()
        with ThreadPoolExecutor(THREADS) as ex:
            list(ex.map(work, range(THREADS)))
        os.getppid()
        assert sum(o.bss.tp_cookie_hits for o in objs) == 0   # nothing left attached
    finally:
        for o in objs:
            o.close()
    gc.collect()
    assert open_fds() - before == set()


def test_uprobe_attach_detach_cycles_quick(adder):
    _uprobe_cycles(adder, 48)


def test_tracepoint_attach_detach_cycles_quick():
    _tracepoint_cycles(48)


@pytest.mark.slow
def test_uprobe_10000_attach_detach_cycles(adder):
    _uprobe_cycles(adder, CYCLES)


@pytest.mark.slow
def test_tracepoint_10000_attach_detach_cycles():
    _tracepoint_cycles(CYCLES)


# (SIGINT set to raise KeyboardInterrupt: a suite started in the background by a
# non-interactive shell passes SIGINT down ignored, and Python then keeps it ignored)
CHILD = """
import os, signal, sys, time, pybpf
signal.signal(signal.SIGINT, signal.default_int_handler)
obj = pybpf.load(sys.argv[1])
links = [obj.programs["up_count"].attach_uprobe(sys.argv[2], "pybpf_add", legacy=True)
         for _ in range(2)]
if sys.argv[3] == "loop":
    tp = obj.programs["raw_count"].attach()
print(" ".join(l.event_name for l in links), flush=True)
while True:
    os.getppid()                           # a traced loop
    if sys.argv[3] != "loop":
        time.sleep(0.05)
"""


def _spawn(adder: str, mode: str) -> tuple[subprocess.Popen, list[str]]:
    p = subprocess.Popen([sys.executable, "-c", CHILD, obj_path("attach_extra"), adder, mode],
                         stdout=subprocess.PIPE, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    return p, p.stdout.readline().split()


def test_sigkill_leaves_stale_events_the_next_attach_removes(adder):
    p, names = _spawn(adder, "sleep")
    assert len(names) == 2
    p.kill()
    p.wait()
    assert sorted(ours("uprobe", p.pid)) == sorted(names)       # the kernel keeps them
    # and one more stale event of a long-gone process, written the way pybpf writes them
    dead = _dead_pid()
    write_event("uprobe", f"p:pybpf/pybpf_{dead}_0 {adder}:0x0")
    with pybpf.load(obj_path("attach_extra")) as o:
        with o.programs["up_count"].attach_uprobe(adder, "pybpf_add", legacy=True) as link:
            assert ours("uprobe", p.pid) == [] and ours("uprobe", dead) == []
            assert ours("uprobe") == [link.event_name]          # ours stays, of course
    assert ours("uprobe") == []


def _dead_pid() -> int:
    q = subprocess.Popen(["true"])
    q.wait()
    return q.pid


def test_sigint_during_a_traced_loop_cleans_up(adder):
    p, names = _spawn(adder, "loop")
    assert sorted(ours("uprobe", p.pid)) == sorted(names)
    time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    wait_child(p, 60)
    assert ours("uprobe", p.pid) == []
