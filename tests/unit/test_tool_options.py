"""The tools' option parser: its own fast path must give argparse's answers, and hand
everything it does not read itself (help, abbreviations, errors) to argparse."""

from __future__ import annotations

import pytest

from pybpf.externs import release_numbers
from pybpf.tools import opensnoop
from pybpf.tools._options import Arg, Opt, _fast, argparser, parse

OPTS = (
    Opt("-T", "--timestamp", help="t"),
    Opt("-x", "--failed", help="x"),
    Opt("-p", "--pid", type=int, default=0, help="p"),
    Opt("-n", "--name", type=str, default="", help="n"),
    Opt("-d", "--duration", type=float, default=0, help="d"),
    Opt("--max-args", type=int, default=20, help="m"),
)
ARGS = (Arg("interval", type=int, default=99, optional=True),
        Arg("count", type=int, default=7, optional=True))

PLAIN = [
    [], ["-T"], ["-Tx"], ["-xT"], ["-p", "42"], ["-p42"], ["--pid", "42"], ["--pid=42"],
    ["-Tp", "5"], ["-Tp5"], ["-n", "cat"], ["--name=a=b"], ["-d", "1.5"], ["-d", "-1"],
    ["--max-args", "3"], ["-p", "-7"], ["5"], ["5", "3"], ["-T", "5", "3", "-x"],
    ["--", "5"], ["-n", ""], ["-p", "1", "-p", "2"], ["-d", "-.5"], ["-d", "-2.25"],
]
# argparse reads these differently from the plain rules: abbreviations, errors, help
OTHER = [["--ti"], ["--dur", "2"], ["-p"], ["-p", "x"], ["-q"], ["--nope"], ["-Tq"],
         ["1", "2", "3"], ["-T", "5", "-x", "3"], ["--timestamp=1"], ["-h"], ["--help"], ["-p", "-T"], ["x"], ["-d", "-1e3"], ["-d", "-inf"]]


def _argparse(argv: list[str]) -> dict | str:
    try:
        return vars(argparser("t", "d", OPTS, ARGS).parse_args(argv))
    except SystemExit as e:
        return f"exit {e.code}"


@pytest.mark.parametrize("argv", PLAIN, ids=" ".join)
def test_fast_path_reads_plain_command_lines_as_argparse_does(argv):
    ns = _fast(OPTS, ARGS, argv)
    assert ns is not None, "a plain command line went to argparse"
    assert vars(ns) == _argparse(argv)


@pytest.mark.parametrize("argv", OTHER, ids=" ".join)
def test_everything_else_goes_to_argparse(argv, capsys):
    assert _fast(OPTS, ARGS, argv) is None
    expected = _argparse(argv)
    capsys.readouterr()
    try:
        got = vars(parse("t", "d", OPTS, argv, ARGS))
    except SystemExit as e:
        got = f"exit {e.code}"
    assert got == expected


def test_help_and_errors_are_argparses(capsys):
    with pytest.raises(SystemExit) as e:
        opensnoop.parse_args(["-h"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: pybpf opensnoop [-h] [-T] [-U] [-x] [-p PID]")
    assert "-d DURATION, --duration DURATION" in out
    with pytest.raises(SystemExit) as e:
        opensnoop.parse_args(["-p", "notanumber"])
    assert e.value.code == 2
    assert "argument -p/--pid: invalid int value: 'notanumber'" in capsys.readouterr().err


def test_opensnoop_options():
    a = opensnoop.parse_args(["-TUx", "-p", "12", "--name=cat", "-d", "0.5"])
    assert (a.timestamp, a.print_uid, a.failed, a.pid, a.tid, a.name, a.extended_fields,
            a.duration) == (True, True, True, 12, 0, "cat", False, 0.5)


@pytest.mark.parametrize("release, numbers", [
    ("6.18.44-fc-v1252", (6, 18, 44)), ("5.10.0-32-amd64", (5, 10, 0)), ("6.1", (6, 1, 0)),
    ("6.1-rc2", (6, 1, 0)), ("6.18.", (6, 18, 0)), ("7.2.13+deb14-amd64", (7, 2, 13)),
    ("10.20.30.40", (10, 20, 30)), ("6", (0, 0, 0)), ("x", (0, 0, 0)), ("", (0, 0, 0)),
])
def test_release_numbers(release, numbers):
    assert release_numbers(release) == numbers


def test_syscall_table_is_the_kernel_headers():
    """pybpf/tools/_syscalls.py is scripts/gen_syscalls.py's output for the uapi header."""
    import importlib.util
    from pathlib import Path

    from pybpf.tools import _syscalls
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("gen", root / "scripts" / "gen_syscalls.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    header = Path(gen.HEADER)
    if not header.exists():
        pytest.skip(f"{header} missing (Debian linux-libc-dev)")
    assert (root / "pybpf" / "tools" / "_syscalls.py").read_text() == gen.render(
        gen.table(header.read_text()))
    assert _syscalls.NAMES[110] == "getppid" and _syscalls.NAMES[0] == "read"


def test_a_bad_value_says_why(capsys):
    """A converter's ValueError message reaches the user, not argparse's generic one."""
    from pybpf.tools import syscount
    with pytest.raises(SystemExit):
        syscount.parse_args(["-e", "ENOPE"])
    err = capsys.readouterr().err
    assert "argument -e/--errno: no errno 'ENOPE'" in err
    assert syscount.parse_args(["-e", "ENOENT"]).errno == 2
