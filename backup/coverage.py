"""Which policy protects each CI (and why), and which CIs are not protected as they should be.

**Inheritance.**  A policy attached to a CI (or a service, which is a CI) covers it directly.  A CI
without an attachment inherits from the nearest CI that has one, along three relationship types, in
the direction of "the whole covers its parts":

* ``X member_of G``  -- ``X`` inherits from ``G`` (a group's policy covers its members);
* ``S runs_on V``    -- ``V`` inherits from ``S`` (a service's policy covers the VMs it runs on);
* ``V hosted_on H``  -- ``V`` inherits from ``H`` (a host's policy covers what it hosts).

Nearest wins (fewest edges); ties go to the edge type listed first above, then the lower CI id, so
the answer is deterministic.  A direct attachment always overrides inheritance.  The walk is one
multi-source breadth-first search over the edges in memory (two queries whatever the graph size).

**Coverage.**  A CI *requires* a backup when its criticality is high or critical, or it inherits
that requirement the same way (a VM a critical service runs on).  The report lists:

* ``no_policy`` -- required, but no effective policy;
* ``rpo_breached`` -- its newest snapshot is older than the policy's RPO (or there is none);
* ``no_restore_test`` -- no passed restore test within the policy's ``restore_test_max_age_days``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from django.db.models import Max
from django.utils import timezone

from cmdb.core.models import ConfigurationItem
from cmdb.services.models import Relationship, RelationshipType

from .models import Policy, PolicyAttachment, RestoreTest, Snapshot

#: ``type slug -> True`` when the policy flows from the edge's target to its source, ``False`` the other way.
INHERITANCE = {"member_of": True, "runs_on": False, "hosted_on": True}
REQUIRED_CRITICALITY = ("high", "critical")
#: The CMDB's own backup objects are not subjects of coverage.
EXEMPT_KINDS = ("backup.repository", "backup.policy")


@dataclass(frozen=True)
class Effective:
    """The policies that apply to one CI and where they come from."""

    policy_ids: tuple[int, ...]
    source_ci: int
    via: str  # "" for a direct attachment, else the relationship type it came along
    distance: int
    explanation: str


def _children(types: Iterable[str] = INHERITANCE) -> dict[int, list[tuple[int, int]]]:
    """``parent ci -> [(child ci, type rank)]`` for the inheritance edges (two queries: the types, then the
    edges by type id -- no join, which for tens of thousands of edges costs more than the second query)."""
    order = {slug: i for i, slug in enumerate(INHERITANCE)}
    slug_of = dict(RelationshipType.objects.filter(slug__in=list(types)).values_list("pk", "slug"))
    out: dict[int, list[tuple[int, int]]] = {}
    rows = Relationship.objects.filter(type_id__in=list(slug_of)).values_list("source_id", "target_id", "type_id")
    for source, target, type_id in rows:
        slug = slug_of[type_id]
        parent, child = (target, source) if INHERITANCE[slug] else (source, target)
        out.setdefault(parent, []).append((child, order[slug]))
    return out


def _spread(seeds: dict[int, Any], children: dict[int, list[tuple[int, int]]]) -> dict[int, tuple[int, int, int]]:
    """Nearest seed of every reachable CI: ``ci -> (seed ci, distance, rank of the first edge type)``."""
    best: dict[int, tuple[int, int, int]] = {ci: (ci, 0, -1) for ci in seeds}
    queue = deque(sorted(seeds))
    while queue:
        node = queue.popleft()
        seed, distance, rank = best[node]
        for child, edge_rank in children.get(node, ()):
            candidate = (seed, distance + 1, edge_rank if distance == 0 else rank)
            current = best.get(child)
            if current is None:
                best[child] = candidate
                queue.append(child)
            elif current[1] == candidate[1] and (candidate[2], candidate[0]) < (current[2], current[0]):
                best[child] = candidate  # same distance: the preferred edge type, then the lower id
    return best


def _label(kind: str, name: str) -> str:
    return f"{kind.rpartition('.')[2]} {name}"


def _attached() -> dict[int, list[int]]:
    attached: dict[int, list[int]] = {}
    for policy_id, ci_id in PolicyAttachment.objects.values_list("policy_id", "ci_id"):
        attached.setdefault(ci_id, []).append(policy_id)
    return attached


def _explain(distance: int, rank: int, kind: str, name: str) -> str:
    if distance == 0:
        return "attached directly"
    steps = f", {distance} steps" if distance > 1 else ""
    return f"inherited from {_label(kind, name)} ({list(INHERITANCE)[rank]}{steps})"


def effective_policies(ci_ids: Iterable[int] | None = None) -> dict[int, Effective]:
    """The effective policies of ``ci_ids`` (all CIs if ``None``), with an explanation each."""
    attached = _attached()
    best = _spread(attached, _children())
    wanted = set(best) if ci_ids is None else set(ci_ids) & set(best)
    sources = {best[ci][0] for ci in wanted}
    names = {pk: (kind, name) for pk, kind, name in ConfigurationItem.objects.filter(
        pk__in=sources).values_list("pk", "kind", "name")}
    slugs = list(INHERITANCE)
    result = {}
    for ci in wanted:
        seed, distance, rank = best[ci]
        kind, name = names.get(seed, ("ci", str(seed)))
        result[ci] = Effective(tuple(sorted(attached[seed])), seed, "" if distance == 0 else slugs[rank], distance,
                               _explain(distance, rank, kind, name))
    return result


@dataclass(slots=True)
class CoverageRow:
    ci_id: int
    name: str
    kind: str
    criticality: str
    problem: str
    policy: str
    explanation: str
    last_backup: dt.datetime | None
    last_restore_test: dt.datetime | None
    #: The effective policies' smallest RPO and restore-test window (0 for ``no_policy``).
    rpo_hours: int = 0
    restore_window_days: int = 0


@dataclass
class Report:
    """The coverage rows and the counts over every CI in view (``cis``, ``with_policy``, ``without_policy``,
    and one per problem)."""

    rows: list[CoverageRow]
    counts: dict[str, int]


def coverage(ci_queryset: Any = None, *, now: dt.datetime | None = None) -> list[CoverageRow]:
    """The coverage report over ``ci_queryset`` (default every active CI); a constant number of queries."""
    return report(ci_queryset, now=now).rows


def report(ci_queryset: Any = None, *, now: dt.datetime | None = None) -> Report:
    """:func:`coverage` with the counts the coverage page shows (same queries, one pass)."""
    now = now or timezone.now()
    cis = ci_queryset if ci_queryset is not None else ConfigurationItem.objects.all()
    cis = cis.filter(status__in=("active", "maintenance", "planned")).exclude(kind__in=EXEMPT_KINDS)
    children = _children()
    attached = _attached()
    effective = _spread(attached, children)
    critical = dict.fromkeys(ConfigurationItem.objects.filter(criticality__in=REQUIRED_CRITICALITY)
                             .values_list("pk", flat=True))
    required = _spread(critical, children)
    rows = cis.values_list("pk", "name", "kind", "criticality")
    policies = {p.pk: p for p in Policy.objects.only("pk", "name", "rpo_hours", "restore_test_max_age_days")}
    last_backup = dict(Snapshot.objects.exclude(ci_id=None).order_by().values("ci_id").annotate(t=Max("time"))
                       .values_list("ci_id", "t"))
    last_test = dict(RestoreTest.objects.filter(passed=True).exclude(ci_id=None).order_by().values("ci_id")
                     .annotate(t=Max("tested_at")).values_list("ci_id", "t"))
    # Per seed (attached CI): its policies' label, smallest RPO and restore-test window, computed once.
    per_seed: dict[int, tuple[str, dt.timedelta, dt.timedelta, int, int]] = {}
    for seed, ids in attached.items():
        applied = [policies[i] for i in sorted(ids) if i in policies]
        if applied:
            rpo_hours = min(p.rpo_hours for p in applied)
            window = min(p.restore_test_max_age_days for p in applied)
            per_seed[seed] = (", ".join(p.name for p in applied), dt.timedelta(hours=rpo_hours),
                              dt.timedelta(days=window), rpo_hours, window)
    seed_names = {pk: (kind, name) for pk, kind, name in ConfigurationItem.objects.filter(
        pk__in=list(per_seed)).values_list("pk", "kind", "name")}
    visible: set[int] | None = None
    if ci_queryset is not None:
        visible = set(ci_queryset.filter(pk__in=list(per_seed)).values_list("pk", flat=True))
    out: list[CoverageRow] = []
    append = out.append
    explained: dict[tuple[int, int, int], tuple[str, str]] = {}
    total = with_policy = 0
    for pk, name, kind, crit in rows:
        total += 1
        found = effective.get(pk)
        if found is None:
            if pk in required:
                distance = required[pk][1]
                why = f"criticality {crit}" if distance == 0 else (
                    f"required through {distance} relationship(s) from a {REQUIRED_CRITICALITY[0]}+ CI")
                append(CoverageRow(pk, name, kind, crit, "no_policy", "", why, last_backup.get(pk),
                                   last_test.get(pk)))
            continue
        seed = found[0]
        if seed not in per_seed:
            continue
        with_policy += 1
        backup, test = last_backup.get(pk), last_test.get(pk)
        label, rpo, max_age, rpo_hours, window = per_seed[seed]
        rpo_bad = backup is None or now - backup > rpo
        test_bad = test is None or now - test > max_age
        if not (rpo_bad or test_bad):
            continue
        texts = explained.get(found)
        if texts is None:  # the same few sentences for thousands of CIs: built once per (seed, distance, edge)
            _, distance, rank = found
            if distance and visible is not None and seed not in visible:
                # Never name a CI the caller may not see (tenant scope): say only that it is inherited.
                explanation = f"inherited ({list(INHERITANCE)[rank]}) from a CI outside your view"
            else:
                explanation = _explain(distance, rank, *seed_names.get(seed, ("ci", str(seed))))
            texts = explained[found] = (f"{explanation}; RPO {rpo_hours} h",
                                        f"{explanation}; restore test within {window} days")
        if rpo_bad:
            append(CoverageRow(pk, name, kind, crit, "rpo_breached", label, texts[0], backup, test, rpo_hours,
                               window))
        if test_bad:
            append(CoverageRow(pk, name, kind, crit, "no_restore_test", label, texts[1], backup, test,
                               rpo_hours, window))
    counts = {"cis": total, "with_policy": with_policy, "without_policy": total - with_policy,
              **dict.fromkeys(("no_policy", "rpo_breached", "no_restore_test"), 0)}
    for row in out:
        counts[row.problem] += 1
    return Report(out, counts)


CSV_COLUMNS = ("ci_id", "name", "kind", "criticality", "problem", "policy", "explanation", "last_backup",
               "last_restore_test")


def as_dicts(rows: list[CoverageRow]) -> list[dict[str, Any]]:
    return [{k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in asdict(row).items()} for row in rows]


def as_csv(rows: list[CoverageRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in as_dicts(rows):
        # Spreadsheet formula injection: a CI name starting with = + - @ is quoted as text.
        writer.writerow(["'" + v if isinstance(v, str) and v[:1] in "=+-@" else v
                         for v in (row[c] for c in CSV_COLUMNS)])
    return out.getvalue()
