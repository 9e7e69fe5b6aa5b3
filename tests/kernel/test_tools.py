"""The shipped tools on the real kernel: output people know, for events this test causes."""

from __future__ import annotations

import io
import os
import threading
import time

import pytest

from pybpf.tools import opensnoop

pytestmark = pytest.mark.kernel


def test_opensnoop_shows_the_file_this_test_opens(tmp_path):
    target = tmp_path / "pybpf_opensnoop_probe.txt"
    target.write_text("x")
    missing = tmp_path / "pybpf_no_such_file"
    out = io.StringIO()
    ready = threading.Event()

    def trigger() -> None:
        ready.wait(10)
        time.sleep(0.2)
        target.read_text()
        try:
            missing.read_text()
        except FileNotFoundError:
            pass

    t = threading.Thread(target=trigger)
    t.start()
    opensnoop.run(["-d", "1.5", "-p", str(os.getpid())], out=out, ready=ready.set)
    t.join()
    lines = out.getvalue().splitlines()
    assert lines[0] == "PID    COMM               FD ERR PATH"
    ok = [line for line in lines if line.endswith(str(target))]
    bad = [line for line in lines if line.endswith(str(missing))]
    assert ok and bad, lines
    pid, comm, fd, err = ok[0].split()[:4]
    assert int(pid) == os.getpid() and int(fd) >= 0 and err == "0"
    assert bad[0].split()[2:4] == ["-1", "2"]                  # ENOENT, as bcc prints it
