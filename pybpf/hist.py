"""Histograms printed exactly as bcc prints them (``print_log2_hist``/``print_linear_hist``).

Log2 buckets follow bcc's ``bpf_log2l()`` numbering: bucket ``i`` (from 1) counts values in
``[2**(i-1), 2**i - 1]``, bucket 1 also counting 0, and bucket 0 is unused. Use
``from_zero=True`` for libbpf-tools' numbering (bucket 0 is ``0 -> 1``). Text ends at the
last non-zero bucket; with more than 32 buckets the columns widen and the bar halves, as
in bcc. ``style="bcc-2015"`` reproduces the narrower layout of bcc's first releases (the
one in the early tool examples: 15-char header field, 8-digit ranges, 38-char bar).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from .errors import MapError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["buckets_from_map", "linear_hist", "log2_hist", "log2_slot", "print_map_hists"]

_STYLES = ("bcc", "bcc-2015")


def _stars(val: int, val_max: int, width: int) -> str:
    """The bar: one star per ``val_max / width`` (bcc's loop), '+' when past the maximum."""
    n = 0
    limit = width * val / val_max - 1 if val_max else -1
    while n <= limit and n <= width - 1:
        n += 1
    text = "*" * n
    if val > val_max:
        text = text[:-1] + "+"
    return text


def log2_slot(value: int) -> int:
    """The bcc bucket of ``value`` (``bpf_log2l(v) + 1``; 0 and 1 both land in 1)."""
    return max(int(value), 1).bit_length()


def _layout(idx_max: int, style: str) -> tuple[str, str, int]:
    if style not in _STYLES:
        raise ValueError(f"unknown histogram style {style!r} (known: {', '.join(_STYLES)})")
    if style == "bcc-2015":
        return "     %-15s : count     distribution", "%8d -> %-8d : %-8d |%-*s|", 38
    if idx_max <= 32:
        return "     %-19s : count     distribution", "%10d -> %-10d : %-8d |%-*s|", 40
    return "               %-29s : count     distribution", "%20d -> %-20d : %-8d |%-*s|", 20


def _section_line(section: str | tuple[str, Any] | None) -> list[str]:
    if section is None:
        return []
    if isinstance(section, tuple):            # bcc: "\n%s = %r" % (header, bucket)
        return ["", f"{section[0]} = {section[1]!r}"]
    return ["", section]


def log2_hist(buckets: Sequence[int] | Mapping[int, int], val_type: str = "usecs",
              section: str | tuple[str, Any] | None = None, *, from_zero: bool = False,
              strip_leading_zero: bool = False, style: str = "bcc") -> str:
    """The text bcc's ``print_log2_hist`` prints for ``buckets`` (no trailing newline).

    ``buckets``: counts by slot (a list, or a dict slot -> count). ``section``: a line
    printed first after a blank one, as bcc does per section: a string as is ("disk =
    sda"), or a (header, value) pair as ``header = repr(value)``. Empty histograms give
    "" (bcc prints nothing).
    """
    vals = _as_list(buckets)
    if from_zero:
        vals = [0, *vals]
    idx_max, val_max = -1, 0
    for i, v in enumerate(vals):
        if v > 0:
            idx_max = i
        val_max = max(val_max, v)
    header, body, stars = _layout(idx_max, style)
    lines = _section_line(section)
    if idx_max > 0:
        lines.append(header % val_type)
    for i in range(1, idx_max + 1):
        low, high = (1 << i) >> 1, (1 << i) - 1
        if low == high:
            low -= 1
        val = vals[i]
        if strip_leading_zero:
            if not val:
                continue
            strip_leading_zero = False
        lines.append(body % (low, high, val, stars, _stars(val, val_max, stars)))
    return "\n".join(lines)


def linear_hist(buckets: Sequence[int] | Mapping[int, int], val_type: str = "values",
                section: str | tuple[str, Any] | None = None, *,
                strip_leading_zero: bool = False) -> str:
    """The text bcc's ``print_linear_hist`` prints (one line per slot up to the last
    non-zero one; slots are the bucket indexes)."""
    vals = _as_list(buckets)
    idx_max, val_max = -1, 0
    for i, v in enumerate(vals):
        if v > 0:
            idx_max = i
        val_max = max(val_max, v)
    lines = _section_line(section)
    if idx_max >= 0:
        lines.append(f"     {val_type:<13} : count     distribution")
    for i in range(idx_max + 1):
        val = vals[i]
        if strip_leading_zero:
            if not val:
                continue
            strip_leading_zero = False
        lines.append(f"        {i:<10d} : {val:<8d} |{_stars(val, val_max, 40):<40}|")
    return "\n".join(lines)


def _as_list(buckets: Sequence[int] | Mapping[int, int]) -> list[int]:
    if isinstance(buckets, Mapping):
        if not buckets:
            return []
        out = [0] * (max(int(k) for k in buckets) + 1)
        for k, v in buckets.items():
            if int(k) < 0:
                raise ValueError(f"negative histogram slot {k}")
            out[int(k)] += int(v)
        return out
    return [int(v) for v in buckets]


# ---------------------------------------------------------------- reading maps

def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj[name]
    return getattr(obj, name)


def buckets_from_map(m: Mapping[Any, Any] | Iterable[tuple[Any, Any]], *,
                     slot: str | None = None, section: str | None = None,
                     slots_field: str | None = None) -> Any:
    """Counts by slot read from a histogram map (a pybpf map, or (key, value) pairs).

    - keys are slot numbers (bcc's ``BPF_HISTOGRAM``): a list of counts;
    - keys are structs with a ``slot`` field (and a ``section`` field, bcc's
      ``hist_key_t``): a list, or ``{section value: list}`` when ``section`` is given;
    - ``slots_field``: values hold the counts array (libbpf-tools' ``struct hist
      { u32 slots[N]; }``: ``slots_field="slots"``; ``""``: the value is the array):
      ``{key: list}``.
    Per-CPU counts (a list per CPU) are summed.
    """
    items = list(m.items() if isinstance(m, Mapping) else m)
    if slots_field is not None:
        return {k: [int(x) for x in (_field(v, slots_field) if slots_field else v)]
                for k, v in items}
    by_section: dict[Any, dict[int, int]] = {}
    for k, v in items:
        try:
            sk = int(k) if slot is None and section is None else int(_field(k, slot or "slot"))
            sec = _field(k, section) if section is not None else None
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            raise MapError(f"histogram key {k!r}: no slot{' or section' if section else ''} "
                           f"({e}); give slot=/section= field names") from None
        d = by_section.setdefault(sec, {})
        d[sk] = d.get(sk, 0) + _count(v)
    if section is None:
        return _as_list(by_section.get(None, {}))
    return {sec: _as_list(d) for sec, d in by_section.items()}


def _count(v: Any) -> int:
    if isinstance(v, int):
        return v
    if isinstance(v, (list, tuple)) and all(isinstance(x, int) for x in v):
        return sum(v)          # per-CPU counters
    raise MapError(f"histogram value {v!r} is not a count (give slots_field for arrays)")


def print_map_hists(hists: Mapping[Any, Sequence[int]], val_type: str = "usecs",
                    section_header: str = "section",
                    section_fmt: Callable[[Any], Any] | None = None, **kw: Any) -> str:
    """One log2 histogram per section, sections in sorted order, like bcc's
    ``print_log2_hist(val_type, section_header, section_print_fn)``."""
    try:
        order = sorted(hists)
    except TypeError:
        order = list(hists)
    parts = []
    for sec in order:
        head = (f"{section_header} = {section_fmt(sec)}" if section_fmt is not None
                else (section_header, sec))
        parts.append(log2_hist(hists[sec], val_type, head, **kw))
    return "\n".join(parts)
