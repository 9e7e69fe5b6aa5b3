#!/usr/bin/env bash
# Install what pybpf needs to build its BPF objects and run its tests (Debian, as root).
# Idempotent: installs only what is missing.
set -euo pipefail
PYTHON=${PYTHON:-python3}
need_apt=()
command -v clang-19 >/dev/null || need_apt+=(clang-19)
command -v llvm-strip-19 >/dev/null || need_apt+=(llvm-19)
[ -f /usr/include/bpf/bpf_helpers.h ] || need_apt+=(libbpf-dev)
command -v bpftool >/dev/null || need_apt+=(bpftool)
dpkg -s systemtap-sdt-dev >/dev/null 2>&1 || need_apt+=(systemtap-sdt-dev)
command -v ip >/dev/null || need_apt+=(iproute2)
command -v gcc >/dev/null || need_apt+=(gcc)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt_opts=(-o DPkg::Lock::Timeout=600)   # wait for another apt run instead of failing
  apt-get "${apt_opts[@]}" update -qq
  apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${need_apt[@]}"
fi
"$PYTHON" - <<'PY' || "$PYTHON" -m pip install -q -e '.[test]'
import importlib.util, sys
mods = ["elftools", "cffi", "pytest", "hypothesis"]
sys.exit(0 if all(importlib.util.find_spec(m) for m in mods) else 1)
PY
"$PYTHON" -c "import ruff" 2>/dev/null || "$PYTHON" -m pip install -q ruff || true
# tracefs and bpffs (a fresh machine may have neither mounted)
mountpoint -q /sys/kernel/tracing 2>/dev/null || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
mountpoint -q /sys/fs/bpf 2>/dev/null || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
