"""BTF: the type model, parser, .BTF.ext, CO-RE relocator, kernel BTF and C dumper."""

from .kernel import load_kernel, load_module
from .parse import parse_btf
from .types import BTF, Kind, Type

__all__ = ["BTF", "Kind", "Type", "load_kernel", "load_module", "parse_btf"]
