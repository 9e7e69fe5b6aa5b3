#!/usr/bin/env bash
# Compile one BPF C source into a stripped CO-RE object, byte-identical on any checkout path.
#   scripts/bpf_cc.sh bpf_src/tests/x.bpf.c OUT.o   (CLANG, LLVM_STRIP, BPF_CFLAGS from make)
#
# -fdebug-prefix-map alone is not enough: clang 19 orders some BTF FWD types by heap address
# (its BTF fix-up map is keyed by pointers), and the heap layout follows the length of the
# absolute paths clang allocates. Objects whose BTF holds such forwards (e.g. a kfunc taking
# struct task_struct *) came out with two types swapped when built in a directory of another
# length. So every source is compiled from a copy in a temporary directory whose path always has
# the same length (/tmp/pybpf-cc.XXXXXXXX), mapped to "." in the debug info.
set -euo pipefail
src=$1 out=$2
: "${CLANG:=clang-19}" "${LLVM_STRIP:=llvm-strip-19}" "${BPF_CFLAGS:?BPF_CFLAGS not set}"
top=$(pwd)
dir=$(mktemp -d /tmp/pybpf-cc.XXXXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/$(dirname "$src")" "$dir/bpf_src"
cp -r bpf_src/include "$dir/bpf_src/"
cp "$src" "$dir/$src"
case $out in /*) abs_out=$out ;; *) abs_out=$top/$out ;; esac
mkdir -p "$(dirname "$abs_out")"
# shellcheck disable=SC2086  # BPF_CFLAGS is a list of flags
(cd "$dir" && $CLANG $BPF_CFLAGS -fdebug-prefix-map="$dir"=. -c "$src" -o "$abs_out")
$LLVM_STRIP -g "$abs_out"
