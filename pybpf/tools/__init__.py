"""The bcc/bpftrace classics as `pybpf <tool>` commands, built on the public API."""

import os


def object_path(name: str) -> str:
    """Path of a tool object shipped in the package (pybpf/bpf/<name>.bpf.o).

    A plain path join: ``importlib.resources`` costs ~10 ms of imports at start-up."""
    return os.path.join(os.path.dirname(os.path.dirname(__file__)), "bpf", f"{name}.bpf.o")
