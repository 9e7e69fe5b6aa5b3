"""A fresh machine with neither tracefs nor bpffs mounted: pybpf mounts them as root.

The child runs in a private mount namespace (unshare -m) with both unmounted, so the host's
mounts are untouched and whatever the child pins vanishes with its namespace."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, obj_path

pytestmark = pytest.mark.kernel

CHILD = r"""
import json, os, sys
import pybpf
from pybpf.attach.tracefs import tracefs_path

def fstypes():
    with open("/proc/self/mountinfo") as f:
        return {l.split()[4]: l.split(" - ")[1].split()[0] for l in f}

before = fstypes()
with pybpf.load(sys.argv[1], rodata={"targ_pid": os.getpid()}) as obj:
    with obj.programs["tp_getppid"].attach():      # tracepoint id: needs tracefs
        for _ in range(3):
            os.getppid()
    hits = obj.bss.tp_hits
    pin = "/sys/fs/bpf/pybpf_mount_test"
    obj.maps[".bss"].pin(pin)                      # pinning: needs bpffs
    pinned = os.path.exists(pin)
    os.unlink(pin)
after = fstypes()
print(json.dumps(dict(before=[before.get(p) for p in ("/sys/kernel/tracing", "/sys/fs/bpf")],
                      after=[after.get(p) for p in ("/sys/kernel/tracing", "/sys/fs/bpf")],
                      tracefs=tracefs_path(), hits=hits, pinned=pinned)))
"""


@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare (util-linux) not installed")
def test_tracefs_and_bpffs_mounted_when_missing():
    umount = ("for m in /sys/kernel/debug/tracing /sys/kernel/tracing /sys/kernel/debug "
              "/sys/fs/bpf; do while mountpoint -q $m; do umount -l $m || exit 3; done; done; ")
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                        umount + 'exec "$0" -c "$1" "$2"', sys.executable, CHILD,
                        obj_path("attach_basic")],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["before"] == [None, None]                 # neither mounted in the namespace
    assert out["after"] == ["tracefs", "bpf"]            # both mounted by pybpf
    assert out["tracefs"] == "/sys/kernel/tracing"
    assert out["hits"] == 3 and out["pinned"] is True
