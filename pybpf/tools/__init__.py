"""The bcc/bpftrace classics as `pybpf <tool>` commands, built on the public API."""
