"""pybpf as a user gets it, for the benches that time whole processes: a clean virtual
environment (build/bench-venv, made from the interpreter running the bench) with cffi
and this checkout installed (not editable; bytecode compiled by pip).

The development interpreter is not a fair floor: its site-packages .pth files (an
editable-install finder, a sandbox certificate hook) cost every start ~20 ms before any
pybpf code runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "build" / "bench-venv"
PYTHON = VENV / "bin" / "python3"
PYBPF = VENV / "bin" / "pybpf"


def install() -> None:
    """Make the venv once, then (re)install this checkout into it."""
    quiet = {"stdout": subprocess.DEVNULL, "check": True}
    if not (VENV / ".ready").exists():
        subprocess.run([os.path.realpath(sys.executable), "-m", "venv", "--clear", str(VENV)],
                       **quiet)
        subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "cffi", "wheel"],
                       **quiet)
        (VENV / ".ready").touch()
    with tempfile.TemporaryDirectory() as build:    # a copy: no build/ or egg-info left here
        src = Path(build) / "src"
        shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns("build", ".git", "__pycache__"))
        subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall",
                        "--no-build-isolation", str(src)], **quiet)


def env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without what would change the installed package's start-up."""
    drop = ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "PYTHONPYCACHEPREFIX")
    return {**{k: v for k, v in os.environ.items() if k not in drop}, **(extra or {})}
