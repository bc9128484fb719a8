"""Render /metrics: the CI families written directly as text, then every contributed family.

prometheus_client builds one Python object per sample; for 100,000 CIs times
three families that alone costs more than our whole budget (measured in
``benchmarks/metrics.py``), so the CI families are written straight from
``values_list`` tuples into text chunks.  Contributed families (licenses,
reconcilers, jobs, backup, VDI ...) are small and go through prometheus_client's
own exposition.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client.exposition import generate_latest

from cmdb.core import metrics as registry

from . import process, selectors

_BATCH = 2000  # lines per yielded chunk


def escape(value: object) -> str:
    """A label value as the text format wants it (backslash, double quote and newline escaped)."""
    text = "" if value is None else str(value)
    if "\\" in text or '"' in text or "\n" in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return text


def _header(name: str, kind: str, help_text: str) -> str:
    return f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n"


def ci_families(user: Any) -> Iterator[str]:
    """cmdb_ci_info, cmdb_ci_last_seen_timestamp_seconds and cmdb_ci_count, in three queries.

    The loop is the hot path of /metrics (100,000 CIs): plain tuple unpacking, one
    f-string per line, escaping only for the free-text name.
    """
    sites = selectors.site_by_ci()
    services = selectors.service_by_ci()
    site_of, service_of = sites.get, services.get
    counts: Counter[tuple[str, str, str]] = Counter()
    last_seen: list[str] = []
    seen_line = last_seen.append
    out: list[str] = [_header("cmdb_ci_info", "gauge", "One series per configuration item; the labels describe it.")]
    line = out.append
    for ci_id, kind, name, status, criticality, tenant, seen in selectors.ci_rows(user):
        if tenant is None:
            tenant = ""
        if '"' in name or "\\" in name or "\n" in name:
            name = escape(name)
        service = service_of(ci_id, "")
        line(f'cmdb_ci_info{{ci_id="{ci_id}",kind="{kind}",name="{name}",site="{site_of(ci_id, "")}",'
             f'tenant="{tenant}",service="{escape(service) if service else ""}",criticality="{criticality}",'
             f'status="{status}"}} 1\n')
        counts[(kind, status, tenant)] += 1
        if seen is not None:
            seen_line(f'cmdb_ci_last_seen_timestamp_seconds{{ci_id="{ci_id}",kind="{kind}"}} {seen:.3f}\n')
        if len(out) >= _BATCH:
            yield "".join(out)
            out.clear()
    yield "".join(out)
    yield _header("cmdb_ci_last_seen_timestamp_seconds", "gauge",
                  "When discovery last saw the configuration item (Unix time).")
    for start in range(0, len(last_seen), _BATCH * 5):
        yield "".join(last_seen[start:start + _BATCH * 5])
    yield _header("cmdb_ci_count", "gauge", "Configuration items by kind, lifecycle status and tenant.")
    yield "".join(f'cmdb_ci_count{{kind="{k}",status="{s}",tenant="{t}"}} {n}\n'
                  for (k, s, t), n in sorted(counts.items()))


class _Families:
    """What :func:`generate_latest` expects: an object whose ``collect()`` yields metric families."""

    def __init__(self, families: Iterable[Any]) -> None:
        self.families = families

    def collect(self) -> Iterable[Any]:
        return self.families


def contributed_families(user: Any, *, unscoped: bool) -> Iterator[str]:
    """Every ``<app>.metrics.collect()`` family the caller may see, then the process' request metrics."""
    for family_source in registry.sources(user, unscoped=unscoped):
        yield generate_latest(_Families(family_source)).decode()  # type: ignore[arg-type]
    yield generate_latest(_Families(process.collect())).decode()  # type: ignore[arg-type]


def render(user: Any, *, unscoped: bool) -> Iterator[str]:
    """The whole /metrics body as text chunks (``user=None`` for an allow-listed network)."""
    yield from ci_families(user)
    yield from contributed_families(user, unscoped=unscoped)
