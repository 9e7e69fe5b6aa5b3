"""pybpf._log: loggers that import logging only when a record could be emitted."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from pybpf._log import get_logger


def test_records_reach_logging_with_the_callers_line(caplog: pytest.LogCaptureFixture) -> None:
    log = get_logger("pybpf.test")
    with caplog.at_level(logging.DEBUG, logger="pybpf.test"):
        log.debug("d %d", 1)
        log.info("i")
        log.warning("w %s", "x")
        log.log(logging.ERROR, "e")
        assert log.isEnabledFor(logging.DEBUG)
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("pybpf.test", logging.DEBUG, "d 1"), ("pybpf.test", logging.INFO, "i"),
        ("pybpf.test", logging.WARNING, "w x"), ("pybpf.test", logging.ERROR, "e")]
    assert {r.pathname for r in caplog.records} == {__file__}


def test_debug_needs_no_logging_import_and_warnings_still_print() -> None:
    code = ("import sys; from pybpf._log import get_logger; log = get_logger('pybpf.x'); "
            "log.debug('quiet'); log.info('quiet'); print('logging' in sys.modules, "
            "log.isEnabledFor(10)); log.warning('loud %d', 7)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.split() == ["False", "False"]
    assert r.stderr.strip() == "loud 7"      # logging's last-resort handler, as before
