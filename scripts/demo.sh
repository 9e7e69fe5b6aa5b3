#!/usr/bin/env bash
# make demo: trace open() for 3 seconds with `pybpf opensnoop` while a few files get opened.
set -euo pipefail
PYTHON=${PYTHON:-python3}
( sleep 1.5; for f in /etc/hostname /etc/os-release /nonexistent/pybpf-demo; do cat "$f" >/dev/null 2>&1 || true; done ) &
"$PYTHON" -m pybpf opensnoop -d 3 -n cat
wait
