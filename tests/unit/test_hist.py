"""Histograms against real bcc output: reproduced byte for byte from their counts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pybpf.errors import MapError
from pybpf.hist import buckets_from_map, linear_hist, log2_hist, log2_slot, print_map_hists

# runqlat as printed by bcc (its README): the current layout
RUNQLAT = """\
     usecs               : count     distribution
         0 -> 1          : 233      |***********                             |
         2 -> 3          : 742      |************************************    |
         4 -> 7          : 203      |**********                              |
         8 -> 15         : 173      |********                                |
        16 -> 31         : 24       |*                                       |
        32 -> 63         : 0        |                                        |
        64 -> 127        : 30       |*                                       |
       128 -> 255        : 6        |                                        |
       256 -> 511        : 3        |                                        |
       512 -> 1023       : 5        |                                        |
      1024 -> 2047       : 27       |*                                       |
      2048 -> 4095       : 30       |*                                       |
      4096 -> 8191       : 20       |                                        |
      8192 -> 16383      : 29       |*                                       |
     16384 -> 32767      : 809      |****************************************|
     32768 -> 65535      : 64       |***                                     |"""

# biolatency from bcc's first release (the seed documents): the 2015 layout
BIOLATENCY_2015 = """\
     usecs           : count     distribution
       0 -> 1        : 0        |                                      |
       2 -> 3        : 0        |                                      |
       4 -> 7        : 0        |                                      |
       8 -> 15       : 0        |                                      |
      16 -> 31       : 0        |                                      |
      32 -> 63       : 0        |                                      |
      64 -> 127      : 1        |                                      |
     128 -> 255      : 12       |********                              |
     256 -> 511      : 15       |**********                            |
     512 -> 1023     : 43       |*******************************       |
    1024 -> 2047     : 52       |**************************************|
    2048 -> 4095     : 47       |**********************************    |
    4096 -> 8191     : 52       |**************************************|
    8192 -> 16383    : 36       |**************************            |
   16384 -> 32767    : 15       |**********                            |
   32768 -> 65535    : 2        |*                                     |
   65536 -> 131071   : 2        |*                                     |"""

_LINE = re.compile(r"^\s*(\d+) -> (\d+)\s+: (\d+)\s+\|[*+ ]*\|$")
_HEAD = re.compile(r"^\s+(\w+)\s+: count     distribution$")


def counts_of(text: str) -> tuple[str, list[int]]:
    """(val_type, bcc buckets) parsed back from printed text (bucket 0 unused)."""
    lines = text.splitlines()
    val_type = _HEAD.match(lines[0]).group(1)
    counts = [0] + [int(_LINE.match(ln).group(3)) for ln in lines[1:]]
    return val_type, counts


def test_runqlat_golden():
    val_type, counts = counts_of(RUNQLAT)
    assert log2_hist(counts, val_type) == RUNQLAT


def test_biolatency_2015_golden():
    val_type, counts = counts_of(BIOLATENCY_2015)
    assert log2_hist(counts, val_type, style="bcc-2015") == BIOLATENCY_2015


def _seed_hists() -> list[str]:
    """Every bcc histogram block in the project's seed documents (when present)."""
    seeds = Path("/work/shared/seeds")
    blocks: list[str] = []
    for f in sorted(seeds.glob("*.txt")) if seeds.is_dir() else []:
        lines = f.read_text(errors="replace").splitlines()
        for i, ln in enumerate(lines):
            if _HEAD.match(ln):
                block = [ln]
                for nxt in lines[i + 1:]:
                    if not _LINE.match(nxt):
                        break
                    block.append(nxt)
                indent = min(len(b) - len(b.lstrip()) for b in block)
                indent = min(indent, len(ln) - len(ln.lstrip()) - 5)
                blocks.append("\n".join(b[indent:] for b in block))
    return blocks


@pytest.mark.parametrize("text", _seed_hists() or [BIOLATENCY_2015])
def test_seed_documents_reproduced(text):
    val_type, counts = counts_of(text)
    style = "bcc" if text.startswith(f"     {val_type:<19} :") else "bcc-2015"
    assert log2_hist(counts, val_type, style=style) == text


def test_from_zero_numbering_and_dict_buckets():
    _, counts = counts_of(RUNQLAT)
    assert log2_hist(counts[1:], "usecs", from_zero=True) == RUNQLAT
    assert log2_hist({i: c for i, c in enumerate(counts) if c}, "usecs") == RUNQLAT


def test_empty_and_trailing_zeros():
    assert log2_hist([]) == "" and log2_hist([0, 0, 0]) == ""
    text = log2_hist([0, 3, 0, 1, 0, 0, 0])
    assert text.splitlines()[-1].startswith("         4 -> 7          : 1 ")
    assert len(text.splitlines()) == 4


def test_strip_leading_zero_and_section():
    text = log2_hist([0, 0, 0, 5, 10], "msecs", ("disk", "sda"), strip_leading_zero=True)
    assert text.splitlines() == [
        "",
        "disk = 'sda'",
        "     msecs               : count     distribution",
        "         4 -> 7          : 5        |********************                    |",
        "         8 -> 15         : 10       |****************************************|",
    ]


def test_wide_layout_past_32_buckets():
    counts = [0] * 40
    counts[1], counts[39] = 4, 8
    lines = log2_hist(counts, "nsecs").splitlines()
    assert lines[0] == "               nsecs                         : count     distribution"
    assert lines[1] == "                   0 -> 1                    : 4        |" + \
        "*" * 10 + " " * 10 + "|"
    assert lines[-1] == ("        274877906944 -> 549755813887         : 8        |" +
                         "*" * 20 + "|")


def test_linear_hist():
    text = linear_hist([0, 2, 4, 0], "slots")
    assert text.splitlines() == [
        "     slots         : count     distribution",
        "        0          : 0        |                                        |",
        "        1          : 2        |********************                    |",
        "        2          : 4        |****************************************|",
    ]
    assert linear_hist([]) == ""


def test_log2_slot_matches_bcc():
    assert [log2_slot(v) for v in (0, 1, 2, 3, 4, 7, 8, 1 << 40)] == [1, 1, 2, 2, 3, 3, 4, 41]


def test_buckets_from_maps():
    assert buckets_from_map({1: 3, 3: [1, 1]}) == [0, 3, 0, 2]        # per-CPU summed
    assert buckets_from_map([({"disk": "sda", "slot": 2}, 5), ({"disk": "sdb", "slot": 1}, 1),
                             ({"disk": "sda", "slot": 1}, 2)], section="disk") == \
        {"sda": [0, 2, 5], "sdb": [0, 1]}
    assert buckets_from_map({7: {"slots": (0, 4, 1)}}, slots_field="slots") == {7: [0, 4, 1]}
    with pytest.raises(MapError):
        buckets_from_map({1: "x"})
    text = print_map_hists({"sdb": [0, 1], "sda": [0, 2]}, "usecs", "disk", str)
    assert text.splitlines()[1] == "disk = sda" and text.splitlines()[5] == "disk = sdb"
