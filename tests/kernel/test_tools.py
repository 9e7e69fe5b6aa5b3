"""The shipped tools on the real kernel: output people know, for events this test causes."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

import pybpf
from pybpf.attach.kprobe import kprobes_available
from pybpf.tools import (
    bashreadline,
    biolatency,
    biosnoop,
    execsnoop,
    ext4slower,
    funccount,
    gethostlatency,
    killsnoop,
    opensnoop,
    profile,
    runqlat,
    syscount,
    tcpaccept,
    tcpconnect,
    tcplife,
)
from tests.conftest import require_feature

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


def _execsnoop(argv: list[str], commands: list[list[str]]) -> tuple[list[str], list[int]]:
    """execsnoop's lines while ``commands`` run (each to completion) once it is attached."""
    out, pids, ready = io.StringIO(), [], threading.Event()

    def trigger() -> None:
        ready.wait(10)
        time.sleep(0.2)
        for cmd in commands:
            try:
                p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except OSError:
                continue
            pids.append(p.pid)
            p.wait()

    t = threading.Thread(target=trigger)
    t.start()
    execsnoop.run(["-d", "1.5", "-P", str(os.getpid()), *argv], out=out, ready=ready.set)
    t.join()
    return out.getvalue().splitlines(), pids


def test_execsnoop_shows_the_commands_this_test_runs(tmp_path):
    missing = str(tmp_path / "pybpf-no-such-program")
    lines, pids = _execsnoop([], [["/bin/echo", "hello", "two words"], [missing]])
    assert lines[0] == "PCOMM            PID    PPID   RET ARGS"
    assert lines[1:] == [f"{'echo':<16} {pids[0]:<6} {os.getpid():<6}   0 /bin/echo hello two words"]
    # failed exec()s with -x (the comm is still the parent's), quoted, with the UID
    lines, pids = _execsnoop(["-x", "-q", "-U"], [["/bin/echo", 'say "hi"'], [missing]])
    assert lines[0] == "UID   PCOMM            PID    PPID   RET ARGS"
    assert lines[1] == f"{os.getuid():<6}{'echo':<16} {pids[0]:<6} {os.getpid():<6}   0 " \
                       '"/bin/echo" "say \\"hi\\""'
    # (the comm of the forked child that failed is its parent thread's, spaces and all)
    assert lines[2].endswith(f" {os.getpid():<6}  -2 \"{missing}\"") and len(lines) == 3


def test_execsnoop_max_args_and_filters():
    lines, pids = _execsnoop(["--max-args", "3"], [["/bin/echo", "a", "b", "c", "d"]])
    assert lines[1].endswith(" 0 /bin/echo a b ...")
    lines, _ = _execsnoop(["-l", "^/bin/true x"], [["/bin/echo", "x"], ["/bin/true", "x"]])
    assert [ln.split()[0] for ln in lines[1:]] == ["true"]
    lines, _ = _execsnoop(["-n", "^ech"], [["/bin/echo", "x"], ["/bin/true", "x"]])
    assert [ln.split()[0] for ln in lines[1:]] == ["echo"]


def _hist_counts(text: str) -> dict[int, int]:
    """{low bound: count} of the histogram lines of ``text``."""
    out = {}
    for ln in text.splitlines():
        parts = ln.split()
        if len(parts) >= 5 and parts[1] == "->" and parts[3] == ":":
            out[int(parts[0])] = int(parts[4])
    return out


def _hist_sections(text: str) -> dict[str, int]:
    """{section line ("disk = vda"): total count} of a tool's per-section histograms."""
    out: dict[str, int] = {}
    head = None
    for ln in text.splitlines():
        if " = " in ln and "->" not in ln and not ln.startswith("avg = "):
            head = ln
            out[head] = 0
        elif head is not None and (counts := _hist_counts(ln)):
            out[head] += sum(counts.values())
    return out


def _direct_io_target(tmp_path) -> tuple[str, str, int]:  # noqa: ANN001
    """(a path to read with O_DIRECT, the disk that serves it, the disk sector where the
    path's data starts): a file of this test on a block device's filesystem (its one
    extent, from FIEMAP), else a whole disk (the matrix guests' scratch disk)."""
    st = os.stat(tmp_path)
    if os.major(st.st_dev):
        node = os.path.realpath(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}")
        part_start = 0
        if os.path.exists(f"{node}/partition"):
            part_start = int(open(f"{node}/start").read())
            node = os.path.dirname(node)
        path = tmp_path / "pybpf_biolatency.bin"
        with open(path, "wb") as f:
            f.write(os.urandom(1 << 20))
            os.fsync(f.fileno())
        return str(path), os.path.basename(node), part_start + _first_extent(str(path)) // 512
    for disk in sorted(os.listdir("/sys/block")):
        if os.path.exists(f"/sys/block/{disk}/device") and not disk.startswith(("loop", "zram")):
            return f"/dev/{disk}", disk, 0
    pytest.skip("no block device: neither this test's directory nor a disk is on one")


def _first_extent(path: str) -> int:
    """Byte offset on its filesystem's device of ``path``'s data (asserted contiguous)."""
    import fcntl
    import struct
    req = bytearray(struct.pack("QQIIII", 0, 1 << 20, 1, 0, 1, 0) + bytes(56))  # FIEMAP_FLAG_SYNC
    with open(path, "rb") as f:
        fcntl.ioctl(f.fileno(), 0xC020660B, req)                                 # FS_IOC_FIEMAP
    logical, physical, length = struct.unpack_from("QQQ", req, 32)
    assert struct.unpack_from("I", req, 20)[0] == 1 and logical == 0 and length >= 1 << 20
    return physical


READ_BLOCKS = [i * 37 % 256 for i in range(64)]   # distinct 4 KiB blocks: no merging


def _direct_reads(path: str, n: int) -> None:
    import mmap
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, 4096)
    try:
        for block in READ_BLOCKS[:n]:
            os.preadv(fd, [buf], block * 4096)
    finally:
        os.close(fd)
        buf.close()


def _while_reading(tool, argv: list[str], path: str, n: int) -> str:  # noqa: ANN001
    """``tool``'s output while this process makes ``n`` direct reads of ``path``."""
    out, ready = io.StringIO(), threading.Event()
    t = threading.Thread(target=lambda: ready.wait(10) and _direct_reads(path, n))
    t.start()
    try:
        tool.run(argv, out=out, ready=ready.set)
    finally:
        ready.set()
        t.join()
    return out.getvalue()


def _biolatency(argv: list[str], path: str, n: int) -> str:
    return _while_reading(biolatency, [*argv, "2", "1"], path, n)


def test_biolatency_counts_this_tests_direct_reads(tmp_path):
    path, disk, _ = _direct_io_target(tmp_path)
    n = 40
    text = _biolatency(["-F", "-e", "-d", disk], path, n)
    lines = text.splitlines()
    ext = [ln.split() for ln in lines if ln.startswith("avg = ")]      # -e: bcc's summary line
    assert len(ext) == 1 and ext[0][3:5] == ["usecs,", "total:"] and int(ext[0][-1]) >= n, text
    assert lines[0] == "Tracing block device I/O... Hit Ctrl-C to end."
    assert "     usecs               : count     distribution" in lines
    sections = _hist_sections(text)
    assert all(h.startswith("flags = ") and h[8:].replace("-", "").isalpha() for h in sections)
    reads = sum(c for h, c in sections.items() if h.endswith("Read"))
    assert reads >= n, text                  # every O_DIRECT read is one request
    # per disk, from the queue insertion, in milliseconds
    text = _biolatency(["-D", "-Q", "-m"], path, n)
    sections = _hist_sections(text)
    assert sections.get(f"disk = {disk}", 0) >= n, text
    assert "     msecs               : count     distribution" in text.splitlines()


def test_biolatency_clear_errors():
    with pytest.raises(pybpf.AttachError, match="unknown disk 'pybpf-no-disk'; disks: "):
        biolatency.run(["-d", "pybpf-no-disk"], out=io.StringIO())
    with pytest.raises(pybpf.AttachError, match="exclusive"):
        biolatency.run(["-D", "-F"], out=io.StringIO())
    with pytest.raises(pybpf.AttachError, match="unknown disk 'pybpf-no-disk'; disks: "):
        biosnoop.run(["-d", "pybpf-no-disk"], out=io.StringIO())


def test_biosnoop_shows_each_direct_read_of_this_process(tmp_path):
    path, disk, sector0 = _direct_io_target(tmp_path)
    n = 20
    text = _while_reading(biosnoop, ["-Q", "-d", disk, "2"], path, n)
    lines = text.splitlines()
    assert lines[0] == ("TIME(s)     COMM           PID     DISK      T SECTOR     BYTES  "
                        "QUE(ms) LAT(ms)")
    mine = [ln.split() for ln in lines[1:] if ln.split()[2] == str(os.getpid())]
    comm = open("/proc/self/comm").read().strip()[:14]
    assert {(c, d, t, b) for _, c, _, d, t, _, b, _, _ in mine} == {(comm, disk, "R", "4096")}, text
    # the sectors this test read, in its order: the disk sector of each 4 KiB block
    assert [int(x[5]) for x in mine] == [sector0 + b * 8 for b in READ_BLOCKS[:n]], text
    assert all(float(x[7]) >= 0 and float(x[8]) > 0 for x in mine)
    times = [float(x[0]) for x in mine]
    assert times == sorted(times) and float(lines[1].split()[0]) == 0.0


def test_gethostlatency_times_this_processes_lookups():
    import ctypes
    import socket
    libc = ctypes.CDLL("libc.so.6")
    for f in (libc.gethostbyname, libc.gethostbyname2):
        f.restype = ctypes.c_void_p
    out, ready = io.StringIO(), threading.Event()

    def lookups() -> None:
        ready.wait(10)
        time.sleep(0.2)
        socket.getaddrinfo("127.0.0.9", None)
        assert libc.gethostbyname(b"127.0.0.10")
        assert libc.gethostbyname2(b"127.0.0.11", socket.AF_INET)
        subprocess.run(["getent", "ahosts", "127.0.0.12"], stdout=subprocess.DEVNULL)   # not us

    t = threading.Thread(target=lookups)
    t.start()
    gethostlatency.run(["-p", str(os.getpid()), "-d", "1.5"], out=out, ready=ready.set)
    t.join()
    lines = out.getvalue().splitlines()
    assert lines[0] == "TIME      PID     COMM                  LATms HOST"
    rows = [ln.split() for ln in lines[1:]]
    comm = open("/proc/self/comm").read().strip()
    assert [(r[1], r[2], r[4]) for r in rows] == [
        (str(os.getpid()), comm, h) for h in ("127.0.0.9", "127.0.0.10", "127.0.0.11")], lines
    assert all(float(r[3]) >= 0 for r in rows)


def _fs_type(path: str) -> str:
    """The type of the filesystem ``path`` is on (the longest mount point over it)."""
    path, best = os.path.realpath(path), ("", "")
    with open("/proc/self/mounts") as f:
        for line in f:
            mnt, fstype = line.split()[1:3]
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best[0]):
                best = (mnt, fstype)
    return best[1]


@pytest.fixture
def ext4_dir(tmp_path):  # noqa: ANN001, ANN201
    """A directory on ext4: this test's own if it is on ext4, else PYBPF_SCRATCH_DISK (a
    disk the tests may format: the matrix guests' blank virtio disk) mounted for the test."""
    if _fs_type(str(tmp_path)) == "ext4":
        yield tmp_path
        return
    disk = os.environ.get("PYBPF_SCRATCH_DISK")
    if not disk:
        pytest.skip("no ext4 filesystem here (set PYBPF_SCRATCH_DISK to a disk tests may format)")
    mnt = tmp_path / "ext4"
    mnt.mkdir()
    subprocess.run(["mkfs.ext4", "-q", "-F", disk], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["mount", "-t", "ext4", disk, str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def _ext4slower(argv: list[str], path, work) -> list[str]:  # noqa: ANN001
    out, ready = io.StringIO(), threading.Event()
    t = threading.Thread(target=lambda: ready.wait(10) and work(path))
    t.start()
    try:
        ext4slower.run(["-p", str(os.getpid()), "-d", "1.5", *argv], out=out, ready=ready.set)
    finally:
        ready.set()
        t.join()
    return out.getvalue().splitlines()


def _file_ops(path) -> None:  # noqa: ANN001
    time.sleep(0.2)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        assert os.pwrite(fd, b"x" * 8192, 4096) == 8192
        os.fsync(fd)
        assert len(os.pread(fd, 8192, 4096)) == 8192
    finally:
        os.close(fd)


def _read_once(path) -> None:  # noqa: ANN001
    time.sleep(0.2)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert len(os.pread(fd, 100, 6000)) == 100
    finally:
        os.close(fd)


def test_ext4slower_shows_this_processes_file_operations(ext4_dir):
    require_feature(kprobes_available(), "kprobes (CONFIG_KPROBES unset)")
    path = ext4_dir / "pybpf_ext4slower.txt"
    lines = _ext4slower(["0"], path, _file_ops)
    assert lines[:2] == ["Tracing ext4 operations",
                         "TIME     COMM           PID    T BYTES   OFF_KB   LAT(ms) FILENAME"]
    rows = [ln.split() for ln in lines[2:]]
    mine = [(r[3], r[4], r[5], r[7]) for r in rows if r[7] == path.name]
    # open, write 8 KiB at 4 KiB, fsync, read it back: bcc's T, BYTES and OFF_KB
    assert mine == [("O", "0", "0", path.name), ("W", "8192", "4", path.name),
                    ("S", "0", "0", path.name), ("R", "8192", "4", path.name)], lines
    assert all(r[2] == str(os.getpid()) and float(r[6]) >= 0 for r in rows)
    # -j: CSV, and a threshold no operation here reaches
    lines = _ext4slower(["-j", "0"], path, _read_once)
    assert lines[0] == "ENDTIME_us,TASK,PID,TYPE,BYTES,OFFSET_b,LATENCY_us,FILE"
    csv = [ln.split(",") for ln in lines[1:]]
    assert [(c[2], c[3], c[7]) for c in csv] == [(str(os.getpid()), "O", path.name),
                                                 (str(os.getpid()), "R", path.name)], lines
    assert (csv[1][4], csv[1][5]) == ("100", "6000")            # BYTES, OFFSET_b
    lines = _ext4slower(["10000"], path, _file_ops)
    assert lines == ["Tracing ext4 operations slower than 10000 ms",
                     "TIME     COMM           PID    T BYTES   OFF_KB   LAT(ms) FILENAME"]


def test_ext4slower_without_kprobes_says_so():
    if kprobes_available():
        pytest.skip("this kernel has kprobes: the error path is for kernels without them")
    with pytest.raises(pybpf.AttachError, match="kernel has no kprobes"):
        ext4slower.run(["0", "-d", "0.1"], out=io.StringIO())


def _funccount(pattern: str, calls: int) -> dict[str, int]:
    """funccount's counts while this process calls getppid() ``calls`` times."""
    out, ready = io.StringIO(), threading.Event()

    def work() -> None:
        ready.wait(10)
        time.sleep(0.2)
        for _ in range(calls):
            os.getppid()

    t = threading.Thread(target=work)
    t.start()
    funccount.run(["-p", str(os.getpid()), "-d", "1.5", pattern], out=out, ready=ready.set)
    t.join()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Tracing ") and lines[0].endswith(
        f' functions for "{pattern}"... Hit Ctrl-C to end.')
    assert lines[1:3] == ["", "FUNC                                    COUNT"]
    assert lines[-1] == "Detaching..."
    rows = [ln.rsplit(None, 1) for ln in lines[3:-1]]
    counts = [int(n) for _, n in rows]
    assert counts == sorted(counts) and all(counts)           # least frequent first, no zeros
    return {name.strip(): int(n) for name, n in rows}


def test_funccount_counts_this_processes_calls():
    assert _funccount("t:syscalls:sys_enter_getp*", 17).get("syscalls:sys_enter_getppid") == 17
    assert _funccount("c:getppid", 23) == {"getppid": 23}


def test_funccount_counts_kernel_functions():
    require_feature(kprobes_available(), "kprobes (CONFIG_KPROBES unset)")
    counts = _funccount("*sys_getppid", 19)                    # several, kprobe.multi on 6.1+
    # the syscall's body, whatever the kernel calls it (__do_sys_getppid here)
    assert all(n.endswith("sys_getppid") for n in counts) and 19 in counts.values(), counts


def test_funccount_clear_errors():
    with pytest.raises(pybpf.AttachError, match="unknown tracepoint pybpf_no:such"):
        funccount.run(["t:pybpf_no:such"], out=io.StringIO())
    with pytest.raises(pybpf.AttachError, match="no tracepoint matches 'pybpf_no:such"):
        funccount.run(["t:pybpf_no:such*"], out=io.StringIO())
    with pytest.raises(pybpf.AttachError, match="USDT patterns"):
        funccount.run(["u:c:setjmp"], out=io.StringIO())


def _tcp_session(srv: socket.socket) -> tuple[int, int]:
    """Connect to listener ``srv``, send 10 KiB, get 20 KiB back, close both ends; the
    (client, server) ports of the session."""
    c = socket.create_connection(srv.getsockname()[:2])
    s, _ = srv.accept()
    ports = c.getsockname()[1], s.getsockname()[1]
    c.sendall(b"x" * 10240)
    got = 0
    while got < 10240:
        got += len(s.recv(65536))
    s.sendall(b"y" * 20480)
    got = 0
    while got < 20480:
        got += len(c.recv(65536))
    c.close()
    time.sleep(0.05)
    s.close()
    return ports


def _tcplife(argv: list[str], srv: socket.socket) -> tuple[list[str], tuple[int, int]]:
    out, ready, ports = io.StringIO(), threading.Event(), []

    def work() -> None:
        ready.wait(10)
        time.sleep(0.2)
        ports.append(_tcp_session(srv))

    t = threading.Thread(target=work)
    t.start()
    tcplife.run(["-p", str(os.getpid()), "-d", "1.5", *argv], out=out, ready=ready.set)
    t.join()
    return out.getvalue().splitlines(), ports[0]


def test_tcplife_shows_this_processes_sessions_with_their_bytes():
    comm = open("/proc/self/comm").read().strip()
    with socket.create_server(("127.0.0.1", 0)) as srv:
        lines, (cport, sport) = _tcplife([], srv)
    assert lines[0] == "PID   COMM       LADDR           LPORT RADDR           RPORT TX_KB RX_KB MS"
    rows = sorted(ln.split() for ln in lines[1:])
    me = str(os.getpid())
    # each end: this process, the ports, KB acked and received (10 KiB out, 20 KiB back)
    assert [r[:8] for r in rows] == sorted([
        [me, comm[:10], "127.0.0.1", str(cport), "127.0.0.1", str(sport), "10", "20"],
        [me, comm[:10], "127.0.0.1", str(sport), "127.0.0.1", str(cport), "20", "10"]]), lines
    assert all(float(r[8]) > 0 for r in rows)
    # IPv6, wide columns, and only the local port of the listener
    with socket.create_server(("::1", 0), family=socket.AF_INET6) as srv:
        port = srv.getsockname()[1]
        lines, (cport, sport) = _tcplife(["-w", "-6", "-L", str(port)], srv)
    assert lines[0].startswith("PID   COMM             IP LADDR                      LPORT ")
    assert [ln.split()[:9] for ln in lines[1:]] == [
        [me, comm[:16], "6", "::1", str(port), "::1", str(cport), "20", "10"]], lines
    # CSV
    with socket.create_server(("127.0.0.1", 0)) as srv:
        lines, (cport, sport) = _tcplife(["-s", "-D", str(srv.getsockname()[1])], srv)
    assert lines[0] == "PID,COMM,IP,LADDR,LPORT,RADDR,RPORT,TX_KB,RX_KB,MS"
    assert [ln.split(",")[:9] for ln in lines[1:]] == [
        [me, comm, "4", "127.0.0.1", str(cport), "127.0.0.1", str(sport), "10", "20"]], lines


def _syscount(argv: list[str], work) -> list[str]:  # noqa: ANN001
    out, ready = io.StringIO(), threading.Event()
    t = threading.Thread(target=lambda: ready.wait(10) and (time.sleep(0.2) or work()))
    t.start()
    syscount.run(["-p", str(os.getpid()), "-d", "1.5", *argv], out=out, ready=ready.set)
    t.join()
    lines = out.getvalue().splitlines()
    assert lines[-2:] == ["", "Detaching..."] and lines[1].startswith("[")
    return lines


def _getppids(n: int):  # noqa: ANN202
    return lambda: [os.getppid() for _ in range(n)]


def _missing_stats(n: int):  # noqa: ANN202
    def work() -> None:
        for _ in range(n):
            try:
                os.stat("/pybpf-no-such-file")
            except FileNotFoundError:
                pass
    return work


def test_syscount_counts_this_processes_syscalls():
    lines = _syscount([], _getppids(29))
    assert lines[0] == "Tracing syscalls, printing top 10... Ctrl+C to quit."
    assert lines[2] == "SYSCALL                   COUNT"
    rows = {ln[:22].strip(): int(ln[22:]) for ln in lines[3:-2]}
    assert rows["getppid"] == 29 and len(rows) <= 10, lines
    # latency, in ms: the same count, some time
    lines = _syscount(["-L", "-m"], _getppids(31))
    assert lines[2] == "SYSCALL                   COUNT        TIME (ms)"
    row = next(ln.split() for ln in lines[3:-2] if ln.startswith("getppid "))
    assert row[1] == "31" and float(row[2]) > 0, lines
    # per process: this one, with its comm
    lines = _syscount(["-P", "-T", "3"], _getppids(37))
    assert lines[2] == "PID    COMM               COUNT"
    comm = open("/proc/self/comm").read().strip()
    assert lines[3].split()[:2] == [str(os.getpid()), comm] and int(lines[3].split()[-1]) >= 37
    # failed calls, with one errno: stat() of a missing file (newfstatat on x86-64)
    lines = _syscount(["-x", "-e", "ENOENT"], _missing_stats(13))
    assert lines[0] == "Tracing failed syscalls, printing top 10... Ctrl+C to quit."
    rows = {ln[:22].strip(): int(ln[22:]) for ln in lines[3:-2]}
    assert rows.get("newfstatat", rows.get("stat")) == 13 and "getppid" not in rows, lines


def _accepts(argv: list[str]) -> tuple[list[str], list[tuple[str, int, int]]]:
    """tcpaccept's lines while this process accepts an IPv4 and an IPv6 connection; the
    (family, client port, server port) of each."""
    out, ready, sessions = io.StringIO(), threading.Event(), []

    def work() -> None:
        ready.wait(10)
        time.sleep(0.2)
        for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            with socket.create_server((host, 0), family=fam) as srv:
                c = socket.create_connection(srv.getsockname()[:2])
                s, _ = srv.accept()
                sessions.append((host, c.getsockname()[1], srv.getsockname()[1]))
                c.close()
                s.close()

    t = threading.Thread(target=work)
    t.start()
    tcpaccept.run(["-p", str(os.getpid()), "-d", "1.5", *argv], out=out, ready=ready.set)
    t.join()
    return out.getvalue().splitlines(), sessions


def test_tcpaccept_shows_the_connections_this_process_accepts():
    comm = open("/proc/self/comm").read().strip()[:12]
    me = str(os.getpid())
    lines, sessions = _accepts([])
    assert lines[0] == "PID     COMM         IP RADDR            RPORT LADDR            LPORT"
    assert [ln.split() for ln in lines[1:]] == [
        [me, comm, "4" if host == "127.0.0.1" else "6", host, str(cport), host, str(sport)]
        for host, cport, sport in sessions], lines
    lines, sessions = _accepts(["-4"])
    assert [ln.split()[3] for ln in lines[1:]] == ["127.0.0.1"], lines
    # -P: a port none of them listens on
    lines, _ = _accepts(["-P", "1"])
    assert lines[1:] == []


def _killsnoop(argv: list[str]) -> tuple[list[str], int, int]:
    """killsnoop's lines while this process signals a child (0, then SIGTERM) and a pid
    that does not exist (ESRCH); (child pid, missing pid)."""
    out, ready = io.StringIO(), threading.Event()
    child = subprocess.Popen(["sleep", "30"])
    missing = 4194304 + 1             # above pid_max's limit: never a process

    def work() -> None:
        ready.wait(10)
        time.sleep(0.2)
        os.kill(child.pid, 0)
        os.kill(child.pid, signal.SIGTERM)
        try:
            os.kill(missing, 0)
        except ProcessLookupError:
            pass

    t = threading.Thread(target=work)
    t.start()
    try:
        killsnoop.run(["-p", str(os.getpid()), "-d", "1.5", *argv], out=out, ready=ready.set)
    finally:
        t.join()
        child.kill()
        child.wait()
    return out.getvalue().splitlines(), child.pid, missing


def test_killsnoop_shows_this_processes_kills():
    comm = open("/proc/self/comm").read().strip()
    me = str(os.getpid())
    lines, child, missing = _killsnoop([])
    assert lines[0] == "TIME      PID     COMM             SIG  TPID    RESULT"
    assert [ln.split()[1:] for ln in lines[1:]] == [
        [me, comm, "0", str(child), "0"], [me, comm, "15", str(child), "0"],
        [me, comm, "0", str(missing), "-3"]], lines                     # -ESRCH
    lines, child, missing = _killsnoop(["-x"])
    assert [ln.split()[3:] for ln in lines[1:]] == [["0", str(missing), "-3"]], lines
    lines, child, missing = _killsnoop(["-s", "TERM"])
    assert [ln.split()[3:] for ln in lines[1:]] == [["15", str(child), "0"]], lines


def test_runqlat_sees_two_busy_processes_share_a_cpu():
    cpu = min(os.sched_getaffinity(0))
    spin = [subprocess.Popen(["sh", "-c", "while :; do :; done"],
                             preexec_fn=lambda: os.sched_setaffinity(0, {cpu})) for _ in range(2)]
    try:
        out = io.StringIO()
        runqlat.run(["-m", "-P", "-p", str(spin[0].pid), "1", "1"], out=out)
    finally:
        for p in spin:
            p.kill()
            p.wait()
    text = out.getvalue()
    lines = text.splitlines()
    assert lines[0] == "Tracing run queue latency... Hit Ctrl-C to end."
    assert f"pid = {spin[0].pid}" in lines and f"pid = {spin[1].pid}" not in text   # -p
    assert "     msecs               : count     distribution" in lines
    counts = _hist_counts(text)
    # preempted again and again by its twin on one CPU: waits of whole scheduler slices
    assert sum(n for low, n in counts.items() if low >= 1) >= 5, text


def test_bashreadline_prints_what_an_interactive_bash_reads():
    import pty
    out, ready = io.StringIO(), threading.Event()
    shell: list[subprocess.Popen] = []

    def type_lines() -> None:
        ready.wait(10)
        master, slave = pty.openpty()
        p = subprocess.Popen(["/bin/bash", "--norc", "--noprofile", "-i"], stdin=slave,
                             stdout=slave, stderr=slave, start_new_session=True)
        shell.append(p)
        os.close(slave)
        for line in (b"echo pybpf-readline-probe\n", b"true two words\n", b"exit\n"):
            time.sleep(0.3)
            os.write(master, line)
        p.wait(10)
        os.close(master)

    t = threading.Thread(target=type_lines)
    t.start()
    bashreadline.run(["-d", "2.5"], out=out, ready=ready.set)
    t.join()
    lines = out.getvalue().splitlines()
    assert lines[0] == "TIME      PID     COMMAND"
    mine = [ln[10:] for ln in lines[1:] if ln[10:].startswith(f"{shell[0].pid:<7} ")]
    assert mine == [f"{shell[0].pid:<7} {c}" for c in
                    ("echo pybpf-readline-probe", "true two words", "exit")]


def test_profile_samples_the_busy_function(busy_proc):
    out = io.StringIO()
    profile.run(["-F", "199", "-p", str(busy_proc.pid), "-U", "-f", "1"], out=out)
    folded = [ln.rsplit(" ", 1) for ln in out.getvalue().splitlines()]
    total = sum(int(n) for _, n in folded)
    assert total >= 100                                     # 199 Hz for 1 s, one busy CPU
    stack, n = max(folded, key=lambda x: int(x[1]))
    assert stack.startswith("busy;") and stack.endswith(";main;pybpf_busy_outer;pybpf_busy_spin")
    assert int(n) >= 0.9 * total
    out = io.StringIO()
    profile.run(["-p", str(busy_proc.pid), "-d", "1"], out=out)
    text = out.getvalue()
    assert text.startswith(f"Sampling at 49 Hertz of PID {busy_proc.pid} by user + kernel stack "
                           f"for 1 secs.\n")
    assert "    pybpf_busy_spin\n    pybpf_busy_outer\n    main\n" in text
    assert f"    -                busy ({busy_proc.pid})\n" in text


def _tcpconnect(argv: list[str], targets: list[tuple[str, int]],
                local_ports: list[int] | None = None) -> list[str]:
    """tcpconnect's lines while this process connects to ``targets`` once it is attached
    (the local port of each appended to ``local_ports``)."""
    out, ready = io.StringIO(), threading.Event()

    def connect() -> None:
        ready.wait(10)
        time.sleep(0.2)
        for host, port in targets:
            with socket.create_connection((host, port), timeout=5) as c:
                if local_ports is not None:
                    local_ports.append(c.getsockname()[1])

    t = threading.Thread(target=connect)
    t.start()
    tcpconnect.run(["-d", "1.5", "-p", str(os.getpid()), *argv], out=out, ready=ready.set)
    t.join()
    return out.getvalue().splitlines()


@pytest.fixture
def listeners():
    import socket
    socks = []
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET, "127.0.0.1"),
                         (socket.AF_INET6, "::1")):
        s = socket.socket(family)
        s.bind((host, 0))
        s.listen(8)
        socks.append(s)
    yield [(s.getsockname()[0], s.getsockname()[1]) for s in socks]
    for s in socks:
        s.close()


def test_tcpconnect_shows_this_process_connecting(listeners):
    comm = open("/proc/self/comm").read().strip()[:12]
    (h4, p4), (_h, p4b), (h6, p6) = listeners
    lines = _tcpconnect(["-U"], listeners)
    assert lines[0] == "UID   PID     COMM         IP SADDR            DADDR            DPORT "
    me = f"{os.getuid():<6}{os.getpid():<7} {comm:<12}"
    assert lines[1:] == [f"{me} 4  {h4:<16} {h4:<16} {p4:<6}", f"{me} 4  {h4:<16} {h4:<16} {p4b:<6}",
                         f"{me} 6  {h6:<16} {h6:<16} {p6:<6}"]
    lines = _tcpconnect(["-P", f"{p4b},{p6}", "-6"], listeners)           # ports and family
    assert [ln.split()[-1] for ln in lines[1:]] == [str(p6)]
    ports: list[int] = []
    lines = _tcpconnect(["-L"], listeners, ports)                         # local ports
    assert lines[0] == "PID     COMM         IP SADDR            LPORT  DADDR            DPORT "
    assert lines[1:] == [f"{os.getpid():<7} {comm:<12} {ip}  {h:<16} {lp:<6} {h:<16} {p:<6}"
                         for (h, p), lp, ip in zip(listeners, ports, (4, 4, 6), strict=True)]
    lines = _tcpconnect(["-c"], listeners + listeners[:1])                # counted
    assert lines[-4:] == ["LADDR                     RADDR                     RPORT                CONNECTS  ",
                          f"{h4:<25} {h4:<25} {p4:<20} {2:<10}", f"{h4:<25} {h4:<25} {p4b:<20} {1:<10}",
                          f"{h6:<25} {h6:<25} {p6:<20} {1:<10}"]
