"""Command-line options of the tools: one table, parsed without argparse when it can be.

Importing and setting up :mod:`argparse` costs a tool ~4-9 ms of its start-up (``re``,
``gettext`` and ``locale``, ``shutil`` for the help width), as much as the rest of the
imports. A tool declares its options once (:class:`Opt`, :class:`Arg`); :func:`parse`
reads a plain command line itself (exact long options, ``--opt=value``, short options and
clusters like ``-Tx`` or ``-p42``, positionals) and hands anything else, ``-h`` or an
error, to an :mod:`argparse` parser built from the same table, so that help, abbreviations
and error messages are argparse's own.
"""

from __future__ import annotations

from types import SimpleNamespace

from .._record import Frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
    from typing import Any


class Opt(Frozen):
    """An option: ``flags`` (``-p``, ``--pid``); ``type`` None for a switch (store_true),
    else a converter from str (int, float, str) taking one value."""

    __slots__ = ("flags", "dest", "type", "default", "help", "metavar")

    def __init__(self, *flags: str, dest: str = "", type: Callable[[str], Any] | None = None,
                 default: Any = None, help: str = "", metavar: str | None = None) -> None:
        if not dest:
            long = [f for f in flags if f.startswith("--")]
            dest = (long[0] if long else flags[0]).lstrip("-").replace("-", "_")
        if default is None and type is None:
            default = False
        for name, value in zip(self.__slots__, (flags, dest, type, default, help, metavar),
                               strict=True):
            object.__setattr__(self, name, value)


class Arg(Frozen):
    """A positional argument; ``optional`` ones (argparse's ``nargs="?"``) take ``default``
    when absent."""

    __slots__ = ("dest", "type", "default", "help", "optional", "metavar")

    def __init__(self, dest: str, type: Callable[[str], Any] = str, default: Any = None,
                 help: str = "", optional: bool = False, metavar: str | None = None) -> None:
        for name, value in zip(self.__slots__, (dest, type, default, help, optional, metavar),
                               strict=True):
            object.__setattr__(self, name, value)


def parse(prog: str, description: str, opts: Sequence[Opt], argv: Sequence[str],
          args: Sequence[Arg] = (), epilog: str = "") -> SimpleNamespace | argparse.Namespace:
    """The options and arguments of ``argv`` as a namespace (attributes named by ``dest``)."""
    ns = _fast(opts, args, argv)
    if ns is None:
        ns = argparser(prog, description, opts, args, epilog).parse_args(list(argv))
    return ns


def argparser(prog: str, description: str, opts: Sequence[Opt], args: Sequence[Arg] = (),
              epilog: str = "") -> argparse.ArgumentParser:
    """The argparse parser of the same table (help, errors, abbreviations)."""
    import argparse
    ap = argparse.ArgumentParser(prog=prog, description=description, epilog=epilog or None,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    for o in opts:
        if o.type is None:
            ap.add_argument(*o.flags, dest=o.dest, action="store_true", help=o.help)
        else:
            ap.add_argument(*o.flags, dest=o.dest, type=_said(o.type), default=o.default,
                            help=o.help, metavar=o.metavar)
    for a in args:
        ap.add_argument(a.dest, type=_said(a.type), default=a.default, help=a.help,
                        metavar=a.metavar, nargs="?" if a.optional else None)
    return ap


def _said(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """``convert`` whose ValueError messages reach the user (argparse shows only
    "invalid <function name> value" for a ValueError; builtins like int keep that)."""
    import argparse
    if isinstance(convert, type):
        return convert

    def checked(text: str) -> Any:
        try:
            return convert(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    checked.__name__ = convert.__name__
    return checked


def _fast(opts: Sequence[Opt], args: Sequence[Arg], argv: Sequence[str]) -> SimpleNamespace | None:
    """The namespace of a plain command line, or None where argparse must decide."""
    by_flag = {f: o for o in opts for f in o.flags}
    values: dict[str, Any] = {o.dest: o.default for o in opts}
    positional: list[str] = []
    run_end = -1                               # where the run of positionals ended
    i = 0
    try:
        while i < len(argv):
            arg = argv[i]
            i += 1
            if arg == "--" or not arg.startswith("-") or arg == "-" or _is_number(arg):
                if positional and run_end != i - 1:
                    return None                # argparse splits interleaved positionals oddly
                if arg == "--":
                    positional.extend(argv[i:])
                    break
                positional.append(arg)
                run_end = i
            elif arg.startswith("--"):
                name, eq, val = arg.partition("=")
                o = by_flag.get(name)
                if o is None:                  # also --help, and abbreviations
                    return None
                if o.type is None:
                    if eq:
                        return None
                    values[o.dest] = True
                else:
                    if not eq:
                        if i >= len(argv) or _looks_like_option(argv[i], by_flag):
                            return None
                        val = argv[i]
                        i += 1
                    values[o.dest] = o.type(val)
            else:
                j = 1
                while j < len(arg):            # a cluster: -Tx, -p42, -Tp 42
                    o = by_flag.get("-" + arg[j])
                    if o is None:
                        return None
                    j += 1
                    if o.type is None:
                        values[o.dest] = True
                        continue
                    if j < len(arg):
                        val = arg[j:]
                    elif i < len(argv) and not _looks_like_option(argv[i], by_flag):
                        val = argv[i]
                        i += 1
                    else:
                        return None
                    values[o.dest] = o.type(val)
                    break
        if len(positional) > len(args) or any(not a.optional for a in args[len(positional):]):
            return None
        for a, text in zip(args, positional + [None] * (len(args) - len(positional)),
                           strict=True):
            values[a.dest] = a.default if text is None else a.type(text)
    except (ValueError, TypeError):
        return None                            # argparse words the error
    return SimpleNamespace(**values)


def _is_number(arg: str) -> bool:
    """``-5``, ``-1.5`` or ``-.5`` (argparse's negative numbers, which it takes as values
    when no option looks like one; not ``-1e3`` or ``-inf``)."""
    whole, dot, frac = arg[1:].partition(".")
    if not dot:
        return whole.isdecimal()
    return (not whole or whole.isdecimal()) and frac.isdecimal()


def _looks_like_option(arg: str, by_flag: dict[str, Opt]) -> bool:
    return arg.startswith("-") and arg != "-" and not _is_number(arg)
