#!/usr/bin/env python3
"""Run pybpf's kernel tests on Debian kernels booted under qemu (TCG).

Each kernel is fetched from Debian's archive with a private apt configuration (never
installed), unpacked into a cache, booted with a tiny busybox initramfs that mounts the
host's root read-only over 9p, and the test command runs chrooted into it. Results come
back through a second, writable 9p share. Stdlib only. README.md (Kernel matrix) has more.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import gzip
import io
import lzma
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_KERNELS = ("5.10", "6.1", "6.12", "7.2")
DEFAULT_CACHE = os.environ.get("PYBPF_MATRIX_CACHE", "/var/cache/pybpf-matrix")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
MIRRORS = ("http://deb.debian.org/debian", "http://deb.debian.org/debian-security")
SUITES = ("bullseye", "bookworm", "bookworm-backports", "sid")
SECURITY_SUITES = ("bookworm-security",)
LISTS_MAX_AGE = 24 * 3600
GUEST_OUT = "/tmp/matrix-out"  # where the writable results share appears inside the guest
MODULE_TARGETS = ("virtio_pci", "9pnet_virtio", "9p")
# what the networking tests need (veth pairs, TC clsact + cls_bpf) and the block I/O tests
# (a virtio disk; ext4, and the crc32c its metadata checksums need, for ext4slower); loaded
# when they are modules, skipped when built in or absent (the tests then say what the
# kernel lacks)
OPTIONAL_MODULES = ("veth", "sch_ingress", "cls_bpf", "virtio_blk", "crc32c_generic", "ext4")
SCRATCH_DISK_MB = 16  # a blank virtio disk for block I/O tests (biolatency reads it)
XZ_MAGIC = b"\xfd7zXZ\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b\x08"
HOST_TOOLS = {  # command -> Debian package providing it
    "qemu-system-x86_64": "qemu-system-x86",
    "xz": "xz-utils",
    "zstd": "zstd",
    "dpkg-deb": "dpkg",
    "timeout": "coreutils",
}
# thread=single: one host thread runs both vCPUs. With thread=multi, 6.12 and 7.2 guests
# oopsed now and then on an int3 in text the kernel had just patched (static keys flipped as
# tests attach tracepoints: one vCPU runs code translated before the other's patch); with two
# VMs on this 2-CPU host, single is no slower (6.12 118 s vs 150 s, 7.2 123 s vs 141 s)
QEMU_BASE = (
    "qemu-system-x86_64", "-accel", "tcg,thread=single", "-cpu", "max", "-m", "1G", "-smp", "2",
    "-nographic", "-no-reboot", "-nic", "none",
)
APPEND = "console=ttyS0 panic=-1 quiet"


class MatrixError(Exception):
    """A step of the matrix run failed (fetching, unpacking, booting)."""


def log(msg: str) -> None:
    """Progress line on stderr (this is a script, not the library)."""
    print(f"[vmtest] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """Run ``cmd``; raise MatrixError naming the command and its stderr on failure."""
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise MatrixError(f"`{shlex.join(cmd)}` exited {p.returncode}: {p.stderr.strip()[-2000:]}")
    return p


# --------------------------------------------------------------------------- host setup


def ensure_host_tools() -> None:
    """apt-get install whatever of qemu, busybox-static, xz-utils, zstd is missing."""
    missing = sorted({pkg for cmd, pkg in HOST_TOOLS.items() if shutil.which(cmd) is None})
    if not Path("/usr/share/doc/busybox-static").exists():
        missing.append("busybox-static")
    if not missing:
        return
    log(f"installing {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        run(["apt-get", "install", "-y", "--no-install-recommends", *missing], env=env)
    except MatrixError:
        run(["apt-get", "update"], env=env)
        run(["apt-get", "install", "-y", "--no-install-recommends", *missing], env=env)


# --------------------------------------------------------------------------- private apt


@dataclasses.dataclass(frozen=True)
class Apt:
    """apt-get/apt-cache bound to a private sources list and state under ``cache``."""

    cache: Path

    @property
    def sources(self) -> Path:
        return self.cache / "sources.list"

    def options(self) -> list[str]:
        return [
            "-o", f"Dir::Etc::SourceList={self.sources}",
            "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State::Lists={self.cache / 'lists'}",
            "-o", f"Dir::Cache::archives={self.cache / 'archives'}",
            "-o", "APT::Sandbox::User=root",
            "-o", "Acquire::Languages=none",
        ]

    def write_sources(self) -> None:
        lines = [f"deb [signed-by={KEYRING}] {MIRRORS[0]} {s} main" for s in SUITES]
        lines += [f"deb [signed-by={KEYRING}] {MIRRORS[1]} {s} main" for s in SECURITY_SUITES]
        text = "\n".join(lines) + "\n"
        if not self.sources.exists() or self.sources.read_text() != text:
            self.sources.write_text(text)

    def update(self, force: bool = False) -> None:
        """Refresh the private package lists when missing or older than a day."""
        lists = self.cache / "lists"
        (lists / "partial").mkdir(parents=True, exist_ok=True)
        (self.cache / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        self.write_sources()
        stamps = [p.stat().st_mtime for p in lists.glob("*_Packages*")]
        if not force and stamps and time.time() - min(stamps) < LISTS_MAX_AGE \
                and len(stamps) >= len(SUITES) + len(SECURITY_SUITES):
            return
        log("apt-get update (private lists)")
        run(["apt-get", *self.options(), "update"])

    def search(self, regex: str) -> list[str]:
        out = run(["apt-cache", *self.options(), "search", "--names-only", regex]).stdout
        return [line.split(" - ", 1)[0].strip() for line in out.splitlines() if line.strip()]

    def depends(self, package: str) -> list[str]:
        out = run(["apt-cache", *self.options(), "show", "--no-all-versions", package]).stdout
        for line in out.splitlines():
            if line.startswith("Depends:"):
                alts = [d.split("|")[0] for d in line[len("Depends:"):].split(",")]
                return [a.split("(")[0].strip() for a in alts]
        return []

    def download(self, packages: list[str], dest: Path) -> list[Path]:
        dest.mkdir(parents=True, exist_ok=True)
        run(["apt-get", *self.options(), "download", *packages], cwd=dest)
        debs = []
        for pkg in packages:
            found = sorted(dest.glob(f"{pkg}_*.deb"))
            if not found:
                raise MatrixError(f"apt-get download left no .deb for {pkg} in {dest}")
            debs.append(found[-1])
        return debs


def version_key(name: str) -> tuple[int, ...]:
    """Numeric sort key of a Debian kernel package name (linux-image-6.12.90+deb12.1-amd64)."""
    return tuple(int(n) for n in re.findall(r"\d+", name))


def pick_image(label: str, names: list[str]) -> str:
    """Newest stock amd64 image package for kernel series ``label`` among ``names``."""
    pat = re.compile(rf"^linux-image-{re.escape(label)}[.-]\d[^ ]*-amd64$")
    ok = [n for n in names if pat.match(n) and not re.search(r"-(cloud|rt)-amd64$", n)]
    if not ok:
        raise MatrixError(f"no Debian linux-image package for kernel {label} in the private lists")
    return max(ok, key=version_key)


# --------------------------------------------------------------------------- kernel files


@dataclasses.dataclass(frozen=True)
class Kernel:
    """An unpacked Debian kernel in the cache."""

    label: str
    package: str
    root: Path  # dpkg-deb -x target
    release: str  # uname -r
    vmlinuz: Path
    modules: Path  # .../modules/<release>


def fetch_kernel(apt: Apt, label: str) -> Kernel:
    """Download and unpack the newest Debian kernel of series ``label`` (cached)."""
    image = pick_image(label, apt.search(rf"^linux-image-{re.escape(label)}[.-]"))
    kdir = apt.cache / "kernels" / image
    done = kdir / ".unpacked"
    if not done.exists():
        # Split packaging (trixie+): the image is a meta package over binary/modules/base.
        extra = [d for d in apt.depends(image)
                 if re.match(r"^linux-(binary|modules|base)-", d) and d.endswith("-amd64")]
        log(f"{label}: downloading {image} {' '.join(extra)}")
        debs = apt.download([image, *extra], apt.cache / "debs")
        shutil.rmtree(kdir, ignore_errors=True)
        (kdir / "root").mkdir(parents=True)
        for deb in debs:
            run(["dpkg-deb", "-x", str(deb), str(kdir / "root")])
        done.write_text(image + "\n")
    return locate_kernel(label, image, kdir / "root")


def locate_kernel(label: str, package: str, root: Path) -> Kernel:
    for moddir in ("lib/modules", "usr/lib/modules"):
        for mod in sorted((root / moddir).glob("*")):
            for vmlinuz in (root / "boot" / f"vmlinuz-{mod.name}", mod / "vmlinuz"):
                if vmlinuz.exists():
                    return Kernel(label, package, root, mod.name, vmlinuz, mod)
    raise MatrixError(f"{package}: no vmlinuz/modules found under {root}")


def find_payloads(blob: bytes) -> list[tuple[int, str]]:
    """Offsets of candidate compressed payloads in a bzImage, ``[(offset, 'xz'|'zstd'|'gzip')]``."""
    found = []
    for magic, kind in ((XZ_MAGIC, "xz"), (ZSTD_MAGIC, "zstd"), (GZIP_MAGIC, "gzip")):
        pos = blob.find(magic)
        while pos >= 0:
            found.append((pos, kind))
            pos = blob.find(magic, pos + 1)
    return sorted(found)


def decompress(data: bytes, kind: str) -> bytes:
    """Decompress one stream, ignoring trailing bytes; b'' when it is not a valid stream."""
    try:
        if kind == "xz":
            return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)
        if kind == "gzip":
            return gzip.GzipFile(fileobj=io.BytesIO(data)).read1(1 << 31)
    except (lzma.LZMAError, OSError, EOFError):
        return b""
    # zstd: the CLI writes the frame, then complains about the trailing bytes; keep the output.
    p = subprocess.run(["zstd", "-dc", "-q"], input=data, capture_output=True)
    return p.stdout


def extract_vmlinux(bzimage: bytes) -> bytes | None:
    """The uncompressed ELF kernel inside a bzImage, or None when none decompresses."""
    for off, kind in find_payloads(bzimage):
        out = decompress(bzimage[off:], kind)
        if out[:4] == b"\x7fELF":
            return out
    return None


def has_pvh_note(elf: bytes) -> bool:
    """True when an ELF64 kernel carries the Xen PHYS32_ENTRY note qemu needs for PVH boot."""
    if elf[:5] != b"\x7fELF\x02":
        return False
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        ptype, _flags, off, _va, _pa, size = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        if ptype != 4:  # PT_NOTE
            continue
        pos, end = off, off + size
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, pos)
            name = elf[pos + 12:pos + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and ntype == 18:
                return True
            pos += 12 + (namesz + 3 & ~3) + (descsz + 3 & ~3)
    return False


def boot_image(kernel: Kernel) -> Path:
    """vmlinux (PVH, boots faster: no in-guest decompression) when possible, else the bzImage."""
    out = kernel.root.parent / "vmlinux"
    bad = kernel.root.parent / "vmlinux.unusable"
    if out.exists():
        return out
    if bad.exists():
        return kernel.vmlinuz
    elf = extract_vmlinux(kernel.vmlinuz.read_bytes())
    if elf is None or not has_pvh_note(elf):
        bad.write_text("no PVH-capable ELF payload\n")
        log(f"{kernel.label}: no PVH vmlinux in the bzImage, booting the bzImage")
        return kernel.vmlinuz
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(elf)
    tmp.rename(out)
    return out


# --------------------------------------------------------------------------- modules


def module_name(path: str) -> str:
    """Kernel module name of a .ko path: basename without .ko[.xz|.zst|.gz], '-' -> '_'."""
    base = path.rsplit("/", 1)[-1]
    base = re.sub(r"\.ko(\.(xz|zst|gz))?$", "", base)
    return base.replace("-", "_")


def parse_modules_dep(text: str) -> dict[str, tuple[str, list[str]]]:
    """modules.dep text -> {name: (path, [dependency names])}."""
    table: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        if ":" not in line:
            continue
        path, deps = line.split(":", 1)
        table[module_name(path.strip())] = (path.strip(), [module_name(d) for d in deps.split()])
    return table


def parse_builtin(text: str) -> set[str]:
    return {module_name(line.strip()) for line in text.splitlines() if line.strip()}


def load_order(targets: tuple[str, ...] | list[str], table: dict[str, tuple[str, list[str]]],
               builtin: set[str]) -> list[str]:
    """Module names to insmod, every dependency before its users, built-ins left out."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in seen or name in builtin:
            return
        if name in chain:
            raise MatrixError(f"module dependency cycle: {' -> '.join(chain + (name,))}")
        if name not in table:
            raise MatrixError(f"module {name} is neither built in nor in modules.dep")
        for dep in table[name][1]:
            visit(dep, chain + (name,))
        seen.add(name)
        order.append(name)

    for t in targets:
        visit(t, ())
    return order


def read_modinfo(ko: bytes) -> dict[str, str]:
    """The .modinfo key=value strings of an uncompressed ELF64 module."""
    shoff, = struct.unpack_from("<Q", ko, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", ko, 0x3A)

    def section(i: int) -> tuple[int, int, int]:
        name, _t, _f, _a, off, size = struct.unpack_from("<IIQQQQ", ko, shoff + i * shentsize)
        return name, off, size

    _, stroff, _ = section(shstrndx)
    for i in range(shnum):
        name, off, size = section(i)
        if ko[stroff + name:ko.index(b"\0", stroff + name)] == b".modinfo":
            info = {}
            for item in ko[off:off + size].split(b"\0"):
                key, sep, val = item.decode("utf-8", "replace").partition("=")
                if sep:
                    info.setdefault(key, val)
            return info
    return {}


def read_module(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".xz":
        return lzma.decompress(data)
    if path.suffix == ".gz":
        return gzip.decompress(data)
    if path.suffix == ".zst":
        return run_bytes(["zstd", "-dc", "-q"], data)
    return data


def run_bytes(cmd: list[str], data: bytes) -> bytes:
    p = subprocess.run(cmd, input=data, capture_output=True)
    if p.returncode != 0:
        raise MatrixError(f"`{shlex.join(cmd)}` exited {p.returncode}: {p.stderr.decode()[-500:]}")
    return p.stdout


def modules_dep(moddir: Path) -> str:
    """modules.dep of an unpacked kernel; Debian ships none (depmod runs at install), so one is
    written from the modules' own .modinfo ``depends=`` fields on first use."""
    dep = moddir / "modules.dep"
    if dep.exists():
        return dep.read_text()
    paths = {module_name(str(p)): p for p in moddir.rglob("*.ko*") if re.search(r"\.ko(\.\w+)?$", p.name)}
    builtin = parse_builtin(_read_text(moddir / "modules.builtin"))
    lines, todo, done = [], [*MODULE_TARGETS, *OPTIONAL_MODULES], set()
    while todo:  # only the closure we need: reading every module's modinfo takes too long
        name = todo.pop()
        if name in done or name in builtin or name not in paths:
            continue
        done.add(name)
        deps = [d for d in read_modinfo(read_module(paths[name])).get("depends", "").split(",") if d]
        deps = [d.replace("-", "_") for d in deps]
        rel = lambda n: str(paths[n].relative_to(moddir))  # noqa: E731
        lines.append(f"{rel(name)}: {' '.join(rel(d) for d in deps if d in paths)}")
        todo.extend(deps)
    text = "\n".join(lines) + "\n"
    (moddir / "modules.dep.pybpf").write_text(text)
    return text


def _read_text(p: Path) -> str:
    return p.read_text() if p.exists() else ""


# --------------------------------------------------------------------------- initramfs


def cpio_newc(entries: list[tuple[str, int, bytes]]) -> bytes:
    """A newc cpio archive of ``(name, mode, data)``; symlinks carry their target as data."""
    out = bytearray()

    def add(ino: int, name: str, mode: int, data: bytes) -> None:
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08X}" for v in (
            ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0))
        out.extend(hdr.encode() + nb)
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))

    for ino, (name, mode, data) in enumerate(entries, start=1):
        add(ino, name, mode, data)
    add(0, "TRAILER!!!", 0, b"")
    return bytes(out)


INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /sbin /usr/bin /usr/sbin /proc /sys /dev /newroot
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
ip link set lo up
t0=$(cut -d' ' -f1 /proc/uptime)
for m in $(cat /modules/order); do insmod /modules/$m.ko || echo "matrix: insmod $m failed"; done
die() { echo "matrix: $*"; poweroff -f; }
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 root /newroot || die "9p root mount failed"
N=/newroot
mount -t tmpfs tmpfs $N/tmp
mkdir -p $N@OUT@
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out $N@OUT@ || die "9p results mount failed"
mount -t devtmpfs devtmpfs $N/dev
mkdir -p $N/dev/pts
mount -t devpts -o ptmxmode=666 devpts $N/dev/pts
mount -t proc proc $N/proc
mount -t sysfs sysfs $N/sys
mount -t tmpfs tmpfs $N/run
mount -t tracefs tracefs $N/sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs $N/sys/kernel/debug
mount -t bpf bpf $N/sys/fs/bpf
mount -t cgroup2 cgroup2 $N/sys/fs/cgroup
# the checkout, shared on its own: under /tmp or /run the mounts above would hide it
mkdir -p $N@REPO@ 2>/dev/null
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 repo $N@REPO@ || die "9p repo mount failed"
O=$N@OUT@
{
  echo "release=$(uname -r)"
  echo "init_uptime=$t0"
  [ -e /sys/kernel/btf/vmlinux ] && echo btf=1 || echo btf=0
  [ -e /sys/bus/event_source/devices/kprobe ] && echo kprobe_pmu=1 || echo kprobe_pmu=0
  [ -e $N/sys/kernel/tracing/kprobe_events ] && echo kprobe_events=1 || echo kprobe_events=0
} > $O/facts
env -i HOME=/tmp TERM=dumb LANG=C.UTF-8 \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  chroot $N /bin/sh @OUT@/cmd.sh > $O/output.txt 2>&1 < /dev/null
echo $? > $O/rc
echo "end_uptime=$(cut -d' ' -f1 /proc/uptime)" >> $O/facts
sync
poweroff -f
"""


def build_initramfs(kernel: Kernel, dest: Path) -> Path:
    """Busybox + the virtio/9p modules (decompressed, in load order) + /init, as newc cpio."""
    table = parse_modules_dep(modules_dep(kernel.modules))
    builtin = parse_builtin(_read_text(kernel.modules / "modules.builtin"))
    order = load_order(MODULE_TARGETS, table, builtin)
    for name in OPTIONAL_MODULES:
        if name in table and name not in builtin:
            order += [m for m in load_order((name,), table, builtin) if m not in order]
    entries: list[tuple[str, int, bytes]] = [
        ("bin", 0o40755, b""), ("modules", 0o40755, b""),
        ("bin/busybox", 0o100755, Path("/bin/busybox").read_bytes()),
        ("bin/sh", 0o120777, b"busybox"),
        ("init", 0o100755, INIT.replace("@OUT@", GUEST_OUT).replace("@REPO@", str(REPO)).encode()),
        ("modules/order", 0o100644, ("\n".join(order) + "\n").encode()),
    ]
    for name in order:
        entries.append((f"modules/{name}.ko", 0o100644, read_module(kernel.modules / table[name][0])))
    dest.write_bytes(cpio_newc(entries))
    return dest


# --------------------------------------------------------------------------- boot + results


@dataclasses.dataclass(frozen=True)
class Result:
    """One kernel's run."""

    label: str
    release: str = "?"
    rc: int | None = None
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    wall: float = 0.0
    boot: float | None = None  # host wall time minus the command's own duration
    btf: bool | None = None
    kprobes: bool | None = None
    image: str = ""
    failures: tuple[str, ...] = ()
    problem: str = ""
    retried: bool = False   # the first boot gave no result (guest crash or timeout)

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.problem and not self.failed and not self.errors


def default_command(out: str = GUEST_OUT) -> str:
    py = os.path.realpath(sys.executable)
    # -v: a run cut by the timeout still shows how far it got. Tests marked slow (the
    # attach/detach soaks, the 100k-entry batch comparison) run on the host suite only: under
    # TCG they would double the matrix time and they exercise no kernel-specific path
    return (f"cd {shlex.quote(str(REPO))} && PYBPF_REQUIRE_KERNEL=1 PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 "
            f"PYTHONDONTWRITEBYTECODE=1 XDG_CACHE_HOME=/tmp "
            f"{shlex.quote(py)} -m pytest -p no:cacheprovider -v -rfEs --tb=short -m 'not slow' "
            f"tests/kernel "
            f"--junitxml={out}/junit.xml; rc=$?; "
            f"{shlex.quote(py)} -m pybpf object info {CORE_PROOF_OBJ} > {out}/core.txt 2>&1; "
            f"exit $rc")


# CO-RE proof: the one precompiled object whose task_struct reads the tests check on every
# kernel (test_tracepoint_and_core_parent); the run prints its relocated offsets per kernel
CORE_PROOF_OBJ = "pybpf/bpf/tests/attach_basic.bpf.o"


def core_offsets(text: str) -> list[str]:
    """The relocated task_struct offsets from `pybpf object info` output."""
    return [f"{m.group(1)}={m.group(2)}" for m in re.finditer(
        r"field_byte_offset struct task_struct\.(\S+) \(\S+\) -> (\d+)", text)]


def parse_facts(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def parse_junit(path: Path) -> tuple[int, int, int, int, tuple[str, ...]]:
    """(passed, failed, errors, skipped, failure lines) from a pytest junit xml file."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for s in suites:
        for k in counts:
            counts[k] += int(s.get(k, 0))
    msgs = []
    for case in root.iter("testcase"):
        for tag in ("failure", "error"):
            for el in case.findall(tag):
                first = (el.get("message") or el.text or "").strip().splitlines()
                msgs.append(f"{case.get('classname')}::{case.get('name')}: {first[0] if first else tag}")
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    return passed, counts["failures"], counts["errors"], counts["skipped"], tuple(msgs)


def qemu_command(image: Path, initrd: Path, share: Path, disk: Path) -> list[str]:
    return [
        *QEMU_BASE, "-kernel", str(image), "-initrd", str(initrd), "-append", APPEND,
        "-drive", f"file={disk},if=virtio,format=raw,cache=unsafe",
        "-virtfs", "local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap",
        "-virtfs", f"local,path={share},mount_tag=out,security_model=none,multidevs=remap",
        "-virtfs", f"local,path={REPO},mount_tag=repo,security_model=none,readonly=on,multidevs=remap",
    ]


def boot(kernel: Kernel, image: Path, command: str, results: Path, timeout: int) -> Result:
    """Boot ``kernel`` once, run ``command`` in it, collect the results share."""
    share = results / kernel.label
    shutil.rmtree(share, ignore_errors=True)
    share.mkdir(parents=True)
    # the scratch disk is the guest's one virtio disk: tests may format it (ext4slower)
    (share / "cmd.sh").write_text(f"export PYBPF_SCRATCH_DISK=/dev/vda\n{command}\n")
    initrd = build_initramfs(kernel, results / f".initrd-{kernel.label}.cpio")
    disk = results / f".disk-{kernel.label}.img"
    with open(disk, "wb") as f:
        f.truncate(SCRATCH_DISK_MB << 20)                 # sparse
    cmd = ["timeout", "-k", "10", str(timeout), *qemu_command(image, initrd, share, disk)]
    t0 = time.monotonic()
    with open(results / f"{kernel.label}.console.log", "wb") as console:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT)
    wall = time.monotonic() - t0
    initrd.unlink(missing_ok=True)
    disk.unlink(missing_ok=True)
    facts = parse_facts(_read_text(share / "facts"))
    base = dict(label=kernel.label, release=facts.get("release", kernel.release), wall=wall,
                btf=_flag(facts, "btf"), kprobes=_flag(facts, "kprobe_pmu"), image=image.name)
    if "init_uptime" in facts and "end_uptime" in facts:
        base["boot"] = wall - (float(facts["end_uptime"]) - float(facts["init_uptime"]))
    rc_text = _read_text(share / "rc").strip()
    if not rc_text:
        why = "timed out" if p.returncode in (124, 137) else f"qemu exited {p.returncode}"
        return Result(**base, problem=f"no result from the guest ({why}); see "
                      f"{results / (kernel.label + '.console.log')}")
    junit = share / "junit.xml"
    counts = parse_junit(junit) if junit.exists() else (0, 0, 0, 0, ())
    return Result(**base, rc=int(rc_text), passed=counts[0], failed=counts[1], errors=counts[2],
                  skipped=counts[3], failures=counts[4])


HOST_JUNIT = "build/junit-host.xml"   # written by `make test`'s host pytest run


def host_result(junit: Path) -> Result | None:
    """The host suite's row (from `make test`'s junit file, if written in the last hour)."""
    if not junit.exists() or time.time() - junit.stat().st_mtime > 3600:
        return None
    return _host_row(junit)


def run_host(junit: Path) -> Result:
    """Run the kernel suite on the host (what the guests run), for a standalone matrix run."""
    py = os.path.realpath(sys.executable)
    junit.parent.mkdir(parents=True, exist_ok=True)
    log(f"host: running the kernel suite ({os.uname().release}) before the guests")
    t0 = time.monotonic()
    subprocess.run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow",
                    "tests/kernel", f"--junitxml={junit}"], cwd=REPO,
                   env={**os.environ, "PYBPF_REQUIRE_KERNEL": "1"},
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    row = _host_row(junit) if junit.exists() else Result("host", os.uname().release,
                                                         problem="the host suite wrote no junit")
    return dataclasses.replace(row, wall=time.monotonic() - t0)


def _host_row(junit: Path) -> Result:
    passed, failed, errors, skipped, failures = parse_junit(junit)
    return Result("host", os.uname().release, 0 if not (failed or errors) else 1, passed, failed,
                  errors, skipped, btf=os.path.exists("/sys/kernel/btf/vmlinux"),
                  kprobes=os.path.exists("/sys/bus/event_source/devices/kprobe"),
                  failures=failures)


def _flag(facts: dict[str, str], key: str) -> bool | None:
    return None if key not in facts else facts[key] == "1"


def table(results: list[Result]) -> str:
    """The kernel x outcome table printed at the end of a run."""
    head = ("kernel", "release", "rc", "passed", "failed", "errors", "skipped", "wall s", "boot s",
            "BTF", "kprobes")
    yn = {True: "yes", False: "no", None: "?"}
    rows = [head]
    for r in results:
        rows.append((r.label + (" (retried)" if r.retried else ""), r.release, "-" if r.rc is None else str(r.rc), str(r.passed),
                     str(r.failed), str(r.errors), str(r.skipped), f"{r.wall:.1f}",
                     "-" if r.boot is None else f"{r.boot:.1f}", yn[r.btf], yn[r.kprobes]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernels", default=",".join(DEFAULT_KERNELS),
                    help="comma-separated Debian kernel series (default: %(default)s)")
    ap.add_argument("--cmd", help="shell command run in the guest from / (default: the kernel "
                    f"pytest suite); {GUEST_OUT} is the writable results share")
    ap.add_argument("--jobs", type=int, default=2, help="VMs booted in parallel")
    ap.add_argument("--cache", default=DEFAULT_CACHE, help="kernel cache (env PYBPF_MATRIX_CACHE)")
    ap.add_argument("--results", default=None, help="results dir (default: <cache>/results)")
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per VM")
    ap.add_argument("--list", action="store_true", help="show the kernel packages and exit")
    ap.add_argument("--fetch-only", action="store_true", help="download and unpack, do not boot")
    ap.add_argument("--update", action="store_true", help="refresh the private apt lists now")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    labels = [k.strip() for k in args.kernels.split(",") if k.strip()]
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    results = Path(args.results) if args.results else cache / "results"
    ensure_host_tools()
    apt = Apt(cache)
    apt.update(force=args.update)
    if args.list:
        for label in labels:
            image = pick_image(label, apt.search(rf"^linux-image-{re.escape(label)}[.-]"))
            cached = (cache / "kernels" / image / ".unpacked").exists()
            print(f"{label:6} {image}{'  (cached)' if cached else ''}")
        return 0
    t_start = time.monotonic()
    kernels: list[Kernel] = []
    images: dict[str, Path] = {}
    for label in labels:
        k = fetch_kernel(apt, label)
        kernels.append(k)
        images[label] = boot_image(k)
        log(f"{label}: {k.package} ({k.release}), boots {images[label].name}")
    if args.fetch_only:
        return 0
    results.mkdir(parents=True, exist_ok=True)
    command = args.cmd or default_command()
    host = None
    if not args.cmd:     # the host row: `make test` has just run it, else run it now
        host = host_result(REPO / HOST_JUNIT) or run_host(REPO / HOST_JUNIT)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futs = {pool.submit(boot, k, images[k.label], command, results, args.timeout): k
                for k in kernels}
        done: dict[str, Result] = {}
        for fut in concurrent.futures.as_completed(futs):
            r = fut.result()
            done[r.label] = r
            log(f"{r.label}: rc={r.rc} {r.wall:.1f}s {r.problem}")
    for label, r in list(done.items()):
        if r.rc is None:    # the guest died (once: a 7.2 oops in int3 text patching under TCG)
            k = next(k for k in kernels if k.label == label)
            crashed = results / f"{label}.console.crashed.log"
            shutil.copy(results / f"{label}.console.log", crashed)
            log(f"{label}: no result ({r.problem}); console kept in {crashed}; booting once more")
            r = boot(k, images[label], command, results, args.timeout)
            done[label] = dataclasses.replace(r, problem=r.problem or "", retried=True)
            log(f"{label}: rc={r.rc} {r.wall:.1f}s {r.problem}")
    ordered = [done[k.label] for k in kernels]
    print(table(([host] if host else []) + ordered))
    if host and (host.failures or host.problem):
        print("\nhost failures:\n" + "\n".join(f"  {m}" for m in host.failures or [host.problem]))
    for r in ordered:
        if r.problem:
            print(f"\n{r.label}: {r.problem}")
        if r.failures:
            print(f"\n{r.label} failures:")
            print("\n".join(f"  {m}" for m in r.failures))
        if r.rc not in (0, None) and not r.failures:
            tail = _read_text(results / r.label / "output.txt").splitlines()[-15:]
            print(f"\n{r.label}: command exited {r.rc}; output tail:")
            print("\n".join(f"  {line}" for line in tail))
    print("\nCO-RE: task_struct field offsets (accessor -> byte offset) relocated per kernel "
          f"for {CORE_PROOF_OBJ}:")
    host_core = subprocess.run([os.path.realpath(sys.executable), "-m", "pybpf", "object", "info",
                                CORE_PROOF_OBJ], cwd=REPO, capture_output=True, text=True).stdout
    for label, text in [("host", host_core)] + [
            (r.label, _read_text(results / r.label / "core.txt")) for r in ordered]:
        offs = core_offsets(text)
        print(f"  {label:6} {', '.join(offs) if offs else '(no core.txt)'}")
    print(f"\ntotal {time.monotonic() - t_start:.1f}s; results in {results}")
    return 0 if all(r.ok for r in ordered + ([host] if host else [])) else 1


if __name__ == "__main__":
    sys.exit(main())
