"""``benchmarks/api.py --only``: the selected rows are replaced or added in the result file, the others kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import api as bench

SAMPLE = """# REST API benchmark

| request | NetBox p50 | NetBox req/s | CMDB p50 | CMDB p95 | CMDB req/s | × NetBox | goal | met |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
| PATCH one device | 320 ms | 2.7 | 136 ms | 194 ms | 7.1 | 2.6× | ≥ 13.5 req/s | NO |
| worker RSS fresh (MB) |  |  | 120, 121 |  |  |  | < 250 MB | yes |

Footer.

- PATCH one device: kept note
"""


def _result() -> bench.Result:
    res = bench.Result("bulkdelete", "bulk DELETE devices (100 per request, with interfaces and addresses)",
                       latencies=[0.5, 0.6], wall=1.0, objects=200, note="a note")
    res.queries = 0.5
    return res


def test_only_updates_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "api.md"
    path.write_text(SAMPLE)
    args = bench.parse_args(["--only", "bulkdelete"])
    setup = {"load": 1.0, "load_after": 1.5}
    mach = {"nproc": "2"}
    for rate in (200, 300):  # a second run replaces the row and its notes instead of adding more
        res = _result()
        res.objects = rate
        rows = bench.table([res], {"fresh": [100.0]})
        bench.update_markdown(path, rows, [res], mach, args, setup)
    text = path.read_text()
    lines = text.splitlines()
    row = [line for line in lines if line.startswith("| bulk DELETE")]
    assert len(row) == 1 and "300 dev/s, 0.50 queries/dev" in row[0] and "| yes |" in row[0]
    assert lines.index(row[0]) == lines.index(next(x for x in lines if x.startswith("| PATCH"))) + 1
    assert "| worker RSS fresh (MB) |  |  | 120, 121 |" in text  # the other rows are untouched
    assert "- PATCH one device: kept note" in text and text.count("a note") == 1
    assert text.count("measured on its own") == 1


def test_unknown_scenarios_are_refused() -> None:
    with pytest.raises(SystemExit):
        bench.parse_args(["--only", "bulkdelete,nosuch"])
