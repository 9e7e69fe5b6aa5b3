"""``pybpf`` command line: ``object info``, ``btf dump`` and the tools (``pybpf execsnoop``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ._lazy import import_submodule
from .errors import BPFError


def _tools() -> list[str]:
    d = os.path.join(os.path.dirname(__file__), "tools")
    return sorted(n[:-3] for n in os.listdir(d) if n.endswith(".py") and not n.startswith("_"))


def _summary(tool: str) -> str:
    """What a tool does, from its module docstring's first line ("x: what, printed as
    bcc's x does."), read without importing it."""
    with open(os.path.join(os.path.dirname(__file__), "tools", f"{tool}.py")) as f:
        first = f.readline().strip().strip('"')
    what = first.split(": ", 1)[-1]
    for cut in (", printed as", ", as bcc"):
        what = what.split(cut)[0]
    return what.rstrip(".")


def object_info(path: str, core: bool = True, out: object = None) -> int:
    """Print programs, maps, globals and CO-RE relocations of an object."""
    from .spec import ObjectSpec
    w = (out or sys.stdout).write  # type: ignore[attr-defined]
    spec = ObjectSpec.from_file(path)
    btf = spec.btf
    w(f"object {path}: license {spec.license!r}, BTF {'yes' if btf else 'no'}\n")
    w(f"programs ({len(spec.programs)}):\n")
    for p in spec.programs.values():
        calls = len(p.origins) - 1
        w(f"  {p.name:<24} sec {p.section:<40} type {p.type.name if p.type else '?':<14} "
          f"insns {len(p.insns) // 8}" + (f" (+{calls} subprog)" if calls > 0 else "") + "\n")
    w(f"maps ({len(spec.maps)}):\n")
    for name, m in spec.maps.items():
        kt = btf.type_name(m.key_type_id) if btf and m.key_type_id else f"{m.key_size}B"
        vt = btf.type_name(m.value_type_id) if btf and m.value_type_id else f"{m.value_size}B"
        tname = m.type.name if hasattr(m.type, "name") else str(m.type)
        w(f"  {name:<24} {tname:<16} key {kt:<20} value {vt:<28} entries {m.max_entries}\n")
    if btf is not None:
        for name, m in spec.maps.items():
            if not (m.is_global_data and m.value_type_id):
                continue
            for vi in btf[m.value_type_id].secinfos:
                var = btf[vi.type_id]
                off = spec.var_offsets.get((name, var.name), vi.offset)
                w(f"  global {name}: {var.name} ({btf.type_name(var.type_id)}) at +{off}\n")
    relos = getattr(spec.btf_ext, "core_relos", {}) if spec.btf_ext else {}
    total = sum(len(v) for v in relos.values())
    w(f"CO-RE relocations: {total}\n")
    if core and total:
        try:
            from .btf.core import CoreRelocator
            from .btf.kernel import load_kernel
            rel = CoreRelocator(btf, load_kernel())
            for sec, rs in relos.items():
                code = bytearray(spec.section_code.get(sec, b""))
                for res in rel.relocate_section(code, rs, sec):
                    w(f"  {res.describe()}\n")
        except BPFError as e:
            w(f"  (cannot relocate against this kernel: {e})\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # no logging.basicConfig unless -v: importing logging costs ~5 ms of every start, and
    # the library's warnings reach stderr anyway (logging's last-resort handler)
    tools = _tools()
    if args and args[0] in tools:
        mod = import_submodule(f"{__package__}.tools", args[0])
        return _run(lambda: mod.main(args[1:]))
    if args[:2] == ["btf", "dump"]:      # straight there: no top-level parser to build
        from .btf import dump
        return _run(lambda: dump.main(args[2:]))
    import argparse
    ap = argparse.ArgumentParser(prog="pybpf", description="pure-Python eBPF toolkit")
    ap.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = ap.add_subparsers(dest="cmd", metavar="COMMAND")
    o = sub.add_parser("object", help="inspect a BPF object file")
    osub = o.add_subparsers(dest="sub", required=True)
    oi = osub.add_parser("info", help="programs, maps, globals, CO-RE relocations")
    oi.add_argument("file")
    oi.add_argument("--no-core", action="store_true", help="don't relocate against this kernel")
    b = sub.add_parser("btf", help="BTF utilities")
    bsub = b.add_subparsers(dest="sub", required=True)
    bd = bsub.add_parser("dump", help="dump BTF as a C header (vmlinux.h)")
    bd.add_argument("file", nargs="?", default="/sys/kernel/btf/vmlinux")
    bd.add_argument("--types", default="", help="comma-separated type names to emit")
    for t in tools:
        sub.add_parser(t, help=_summary(t), add_help=False)
    ns = ap.parse_args(args)
    if ns.verbose:
        import logging
        logging.basicConfig(level=logging.WARNING, format="pybpf: %(message)s")
        logging.getLogger("pybpf").setLevel(logging.DEBUG)
    if ns.cmd == "object":
        return _run(lambda: object_info(ns.file, core=not ns.no_core))
    if ns.cmd == "btf":
        from .btf import dump
        dargs = [ns.file] + (["--types", ns.types] if ns.types else [])
        return _run(lambda: dump.main(dargs))
    ap.print_help()
    return 2


def _run(fn: object) -> int:
    try:
        return int(fn() or 0)  # type: ignore[operator]
    except BPFError as e:
        print(f"pybpf: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
