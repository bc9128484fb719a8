"""What a change touches and what may break: the assessment stored on a change before it is approved.

The assessment answers the change manager's questions in one JSON document:

* **impacted CIs and services** -- the changed CIs are treated as failing (``impact_of(..., mode="down")``
  over the in-memory dependency graph, :mod:`cmdb.services.impact`): everything that would go down
  or degrade, each with its explanation path;
* **who to notify** -- the tenants and contacts of the changed and impacted CIs, and the CIs' owners;
* **SLA exposure** -- per impacted service, how much of the window lies inside its support hours
  and what that spends of its monthly downtime budget (:func:`cmdb.changes.risk.sla_exposure`);
* **risk** -- the score with its factors (:mod:`cmdb.changes.risk`): criticality, blast radius, change
  type, failure history (failed changes, incidents through the ``incidents_for`` hook, failed
  reconcile applies), time of day against support hours, verified backups (``backup_verified_for``);
* **blast radius** -- the registry ids of the changed and impacted CIs, stored on the change itself
  (``Change.blast_radius``) for the collision check (:mod:`cmdb.changes.collisions`).

Why the walk treats the change as a failure: a change is the moment a CI is most likely to stop
working; what its failure takes down is what the change puts at risk.

The assessment is computed with no user (everything) and stored once; :func:`for_user` cuts a stored
assessment down to what one user may see before it is shown (tenant scope).
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterable
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from cmdb.core import hooks
from cmdb.services import impact
from cmdb.services.graph import current_token, get_graph

from . import risk

#: Impacted CIs listed (with paths) in a stored assessment; the services are always all listed,
#: and the blast radius always holds every impacted CI.  ``CHANGES_ASSESSMENT_LIMIT`` overrides it.
IMPACTED_LIMIT = 200
#: States whose assessment is kept current when the CMDB changes under them.
PENDING_STATES = ("submitted", "approved", "scheduled")
FAILED_STATES = ("failed", "rolled_back")
FAILED_OUTCOMES = ("failed", "unreachable")


def _limit() -> int:
    return int(getattr(settings, "CHANGES_ASSESSMENT_LIMIT", IMPACTED_LIMIT))


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def failure_history(ci_ids: list[int], since: dt.datetime, *, exclude_change: int | None = None) -> dict[str, Any]:
    """Failed changes, incidents and failed reconcile applies on these CIs since ``since`` (three queries).

    Incidents live in the monitoring domain, which cmdb/ may not import: they are asked for with the
    ``incidents_for`` hook (``None`` when no app answers, i.e. monitoring is not installed).
    """
    from cmdb.reconcile.models import PlanItem

    from .models import Change

    if not ci_ids:
        return {"failed_changes": [], "incidents": 0, "failed_applies": 0}
    failed = (Change.objects.filter(state__in=FAILED_STATES, cis__in=ci_ids)
              .filter(Q(finished_at__gte=since) | Q(finished_at__isnull=True, window_end__gte=since)))
    if exclude_change is not None:
        failed = failed.exclude(pk=exclude_change)
    failed_ids = sorted(set(failed.values_list("pk", flat=True)))
    applies = PlanItem.objects.filter(ci_id__in=ci_ids, outcome__in=FAILED_OUTCOMES, plan__created__gte=since).count()
    answer = hooks.first_answer(hooks.incidents_for, ci_ids=ci_ids, since=since)
    incidents = None if answer is None else int(sum(answer.values()))
    return {"failed_changes": failed_ids, "incidents": incidents, "failed_applies": applies}


def backups(ci_ids: list[int], at: dt.datetime) -> dict[int, dict[str, Any]] | None:
    """Verified backup per changed CI, from whichever domain answers ``backup_verified_for`` (None: nobody)."""
    if not ci_ids:
        return {}
    answer = hooks.first_answer(hooks.backup_verified_for, ci_ids=ci_ids, at=at)
    if answer is None:
        return None
    none = {"verified": False, "why": "unknown to the backup app", "last_snapshot": None, "last_restore_test": None}
    return {c: dict(answer.get(c) or none) for c in ci_ids}


def assess_cis(ci_ids: Iterable[int], *, change_type: str = "normal", start: dt.datetime | None = None,
               end: dt.datetime | None = None, exclude_change: int | None = None,
               now: dt.datetime | None = None) -> dict[str, Any]:
    """The assessment of changing ``ci_ids`` in the window ``[start, end)`` (plain data in, JSON-able out).

    ``exclude_change`` is the change being assessed, left out of its own failure history.  The
    result carries ``blast_radius`` (sorted CI ids) and ``graph_token`` (the graph it was computed on).
    """
    # A core switch's assessment builds a few hundred thousand small, acyclic lists and dicts; the
    # collector's passes over that growing heap would cost more than building them (as in impact._render).
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return _assess_cis(ci_ids, change_type=change_type, start=start, end=end, exclude_change=exclude_change,
                           now=now or timezone.now())
    finally:
        if paused:
            gc.enable()


def _assess_cis(ci_ids: Iterable[int], *, change_type: str, start: dt.datetime | None, end: dt.datetime | None,
                exclude_change: int | None, now: dt.datetime) -> dict[str, Any]:
    ids = sorted({int(c) for c in ci_ids})
    graph = get_graph()
    rows = impact.registry_rows(ids)
    ids = [c for c in ids if c in rows]  # a CI deleted since it was attached is not assessed
    changed = [{"ci_id": c, "kind": rows[c][0], "name": rows[c][1], "tenant_id": rows[c][2],
                "criticality": rows[c][4]} for c in ids]
    limit = _limit()
    if ids:
        result = impact.impact_of(ids, mode="down")
        order = result.order
        reached = graph.ids[order]
        summary = result.summary()
        impacted = result.page(limit)
        services = result.services
    else:
        reached = np.zeros(0, dtype=np.int64)
        summary = {"affected": 0, "down": 0, "degraded": 0, "services": 0, "hidden": 0}
        impacted, services = [], []
    radius = np.union1d(np.asarray(ids, dtype=np.int64), reached)
    service_rows = impact.registry_rows([s["ci_id"] for s in services])
    for svc in services:  # what for_user needs to decide who may see the row
        row = service_rows.get(svc["ci_id"])
        svc["kind"], svc["tenant_id"] = (row[0], row[2]) if row else (impact.SERVICE_KIND, None)
    tenants, contacts = impact._notify(radius.tolist())

    days = risk.history_days()
    history = failure_history(ids, now - dt.timedelta(days=days), exclude_change=exclude_change)
    backup = backups(ids, now)
    tz = risk.support_timezone()
    exposure = risk.sla_exposure(services, start, end, tz)
    window_minutes = (end - start).total_seconds() / 60 if start and end else None
    inputs = risk.RiskInputs(
        change_type=change_type, changed_criticality=[c["criticality"] for c in changed],
        services=[(s["name"], s["criticality"], s["state"]) for s in services],
        affected=int(summary["affected"]), down=int(summary["down"]),
        failed_changes=len(history["failed_changes"]), incidents=history["incidents"],
        failed_applies=history["failed_applies"], history_days=days, window_minutes=window_minutes,
        in_support_minutes=[(e["name"], e["in_support_minutes"]) for e in exposure
                            if e["in_support_minutes"] is not None],
        backups=None if backup is None else {c: bool(v["verified"]) for c, v in backup.items()},
        changed_names={c["ci_id"]: c["name"] for c in changed},
    )
    return {
        "computed_at": now.isoformat(),
        "graph_token": graph.token,
        "window": {"start": _iso(start), "end": _iso(end), "support_hours_timezone": str(tz)},
        "changed": changed,
        "summary": summary,
        "impacted": impacted,
        "impacted_truncated": summary["affected"] > len(impacted),
        "services": services,
        "tenants": tenants,
        "contacts": contacts,
        "sla_exposure": exposure,
        "history": {"days": days, **history,
                    "incidents_source": "monitoring" if history["incidents"] is not None else None},
        "backups": {str(c): v for c, v in (backup or {}).items()},
        "backup_source": None if backup is None else "backup",
        "risk": risk.score(inputs),
        "blast_radius": radius.tolist(),
    }


def assess(change: Any, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The assessment of a :class:`~cmdb.changes.models.Change` (not stored; see :func:`refresh`)."""
    ci_ids = list(change.cis.values_list("pk", flat=True)) if change.pk else []
    return assess_cis(ci_ids, change_type=change.type, start=change.window_start, end=change.window_end,
                      exclude_change=change.pk, now=now)


def refresh(change: Any, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Assess ``change``, store the result on it and re-check its collisions; returns the assessment.

    Stored with one ``UPDATE`` of the computed columns only (never a full save): the assessment is
    derived data, so it neither races a concurrent edit of the change's other fields nor writes a
    change-log record of its own.
    """
    from . import collisions
    from .models import Change

    now = now or timezone.now()
    data = assess(change, now=now)
    radius = data.pop("blast_radius")
    fields = {"assessment": data, "risk_score": data["risk"]["score"], "assessed_at": now,
              "assessment_token": data["graph_token"], "blast_radius": radius}
    Change.objects.filter(pk=change.pk).update(**fields)
    for name, value in fields.items():
        setattr(change, name, value)
    collisions.record(change, now=now)
    return data


def refresh_pending(*, now: dt.datetime | None = None) -> int:
    """Re-assess the pending changes assessed on another graph than the current one; returns how many.

    The graph token is random per write (:mod:`cmdb.services.graph`), so "older" means "different".
    Only relationship and redundancy writes move the token: an edit of a CI's criticality or of a
    service's support hours is picked up at the next refresh of the change, not by this sweep.
    """
    from .models import Change

    token = current_token()
    stale = (Change.objects.filter(state__in=PENDING_STATES)
             .filter(Q(assessment_token__isnull=True) | ~Q(assessment_token=token)).order_by("pk"))
    count = 0
    for change in stale.iterator(chunk_size=200):
        refresh(change, now=now)
        count += 1
    return count


def for_user(assessment: dict[str, Any], user: Any) -> dict[str, Any]:
    """A stored assessment cut to what ``user`` may see (a copy; the stored one is unchanged).

    The assessment is computed over every CI; a tenant-limited user who may see a change must
    still not learn the names of other tenants' CIs, services, tenants or contacts from it.
    Rows they may not see are dropped and counted in ``hidden``; explanation paths name such
    CIs "hidden CI".  Scores and totals stay (they are about the change, not about those CIs).
    """
    from cmdb.tenancy.models import Contact, Tenant
    from cmdb.users.permissions import restrict

    vis = impact.Visibility(user)
    if vis.unrestricted or not assessment:
        return assessment
    out = dict(assessment)
    hidden: dict[str, int] = {}
    known = {r["ci_id"]: (r.get("kind"), r.get("tenant_id")) for key in ("changed", "impacted", "services")
             for r in assessment.get(key, []) if r.get("ci_id") is not None}

    def visible(ci: Any) -> bool:
        kind, tenant = known.get(ci, (None, None))
        return kind is not None and vis.can_see(kind, tenant)

    def scrub(row: dict[str, Any]) -> dict[str, Any]:
        if "path" not in row:
            return row
        keep = [p is None or visible(p) for p in row["path"]]
        return {**row, "path": [p if k else None for p, k in zip(row["path"], keep, strict=True)],
                "path_names": [n if k else impact.HIDDEN for n, k in zip(row["path_names"], keep, strict=True)]}

    for key in ("changed", "impacted", "services"):
        rows = assessment.get(key, [])
        kept = [scrub(r) for r in rows if visible(r["ci_id"])]
        hidden[key] = len(rows) - len(kept)
        out[key] = kept
    seen_services = {s["ci_id"] for s in out["services"]}
    out["sla_exposure"] = [e for e in assessment.get("sla_exposure", []) if e.get("ci_id") in seen_services]
    tenant_ids = [t["id"] for t in assessment.get("tenants", [])]
    ok_tenants = set(restrict(Tenant.objects.filter(pk__in=tenant_ids), user, "view").values_list("pk", flat=True))
    out["tenants"] = [t for t in assessment.get("tenants", []) if t["id"] in ok_tenants]
    contact_ids = [c["id"] for c in assessment.get("contacts", [])]
    ok_contacts = set(restrict(Contact.objects.filter(pk__in=contact_ids), user, "view").values_list("pk", flat=True))
    out["contacts"] = [c for c in assessment.get("contacts", []) if c["id"] in ok_contacts]
    out["backups"] = {k: v for k, v in assessment.get("backups", {}).items() if visible(int(k))}
    gone = {r["name"] for key in ("changed", "impacted", "services") for r in assessment.get(key, [])
            if not visible(r["ci_id"]) and r.get("name")}
    if gone and assessment.get("risk"):
        factors = [{**f, "why": "names CIs outside your view"} if any(n in f["why"] for n in gone) else f
                   for f in assessment["risk"]["factors"]]
        out["risk"] = {**assessment["risk"], "factors": factors}
    hidden["tenants"] = len(tenant_ids) - len(out["tenants"])
    hidden["contacts"] = len(contact_ids) - len(out["contacts"])
    out["hidden"] = hidden
    return out
