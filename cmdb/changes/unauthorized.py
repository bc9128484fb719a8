"""Unauthorized changes: a CI changed while no approved, in-window change covered it.

Two sources, both scanned by the ``changes.tick`` job (and callable on their own):

* **drift found by a reconciler**: each CI whose latest reconcile verdict (``CIDrift``) is
  ``drifted`` is an episode that started at ``drifted_since``; one row per (CI, reconciler,
  episode);
* **changes found by discovery**: change records written by discovery ingestion (source
  ``discovery:<type>:<name>``; linking and staleness bookkeeping are not observations) on a typed
  CI within ``CHANGES_UNAUTHORIZED_LOOKBACK_HOURS`` (default 24); one row per (CI, request).

A change covers a CI at a moment when the CI is among its CIs, the moment is inside its window and
the change was approved (approved, scheduled, in progress, or since ended after starting).  Rows are
inserted in bulk and idempotently (a unique key per source reference), so scanning again adds nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from .models import Change, ChangeState, UnauthorizedChange, UnauthorizedSource

#: States of changes that were approved and so cover their CIs during their windows.
COVERING_STATES = (ChangeState.APPROVED, ChangeState.SCHEDULED, ChangeState.IN_PROGRESS, ChangeState.COMPLETED,
                   ChangeState.FAILED, ChangeState.ROLLED_BACK)
NOT_OBSERVATIONS = ("discovery:linking", "discovery:staleness")


def covered(pairs: list[tuple[int, dt.datetime]]) -> set[tuple[int, dt.datetime]]:
    """Those (CI, moment) pairs an approved change covered (one query for all of them)."""
    if not pairs:
        return set()
    through = Change.cis.through
    ci_ids = {ci for ci, _ in pairs}
    lo, hi = min(t for _, t in pairs), max(t for _, t in pairs)
    windows: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for ci, start, end in through.objects.filter(
            configurationitem_id__in=ci_ids, change__state__in=COVERING_STATES,
            change__window_start__lte=hi, change__window_end__gt=lo).values_list(
            "configurationitem_id", "change__window_start", "change__window_end"):
        windows[ci].append((start, end))
    return {(ci, t) for ci, t in pairs if any(s <= t < e for s, e in windows.get(ci, []))}


def scan_drift() -> int:
    """Record drifted CIs no change covered when they drifted; returns the rows added."""
    from cmdb.reconcile.models import CIDrift, DriftStatus

    rows = list(CIDrift.objects.filter(status=DriftStatus.DRIFTED, drifted_since__isnull=False).values_list(
        "ci_id", "reconciler", "drifted_since", "run_id", "items"))
    ok = covered([(ci, since) for ci, _r, since, _run, _items in rows])
    new = [UnauthorizedChange(ci_id=ci, source=UnauthorizedSource.RECONCILE,
                              source_ref=f"reconcile:{reconciler} drifted since {since.isoformat()}",
                              detected_at=since, detail={"reconciler": reconciler, "run": run_id, "items": items})
           for ci, reconciler, since, run_id, items in rows if (ci, since) not in ok]
    return _insert(new)


def scan_discovery(since: dt.datetime | None = None) -> int:
    """Record discovery's changes to CIs that no change covered; returns the rows added."""
    from cmdb.core.models import ObjectChange

    hours = float(getattr(settings, "CHANGES_UNAUTHORIZED_LOOKBACK_HOURS", 24))
    since = since or timezone.now() - dt.timedelta(hours=hours)
    records = list(ObjectChange.objects.filter(time__gte=since, source__startswith="discovery:", action="update")
                   .exclude(source__in=NOT_OBSERVATIONS).filter(~Q(erased=True))
                   .values_list("changed_object_type_id", "changed_object_id", "time", "source", "request_id",
                                "prechange_data", "postchange_data").order_by("id"))
    by_type: dict[int, set[int]] = defaultdict(set)
    for type_id, obj_id, *_rest in records:
        by_type[type_id].add(obj_id)
    to_ci: dict[tuple[int, int], int] = {}
    from django.contrib.contenttypes.models import ContentType

    for type_id, ids in by_type.items():
        model = ContentType.objects.get_for_id(type_id).model_class()
        if model is None or not any(f.name == "ci" for f in model._meta.concrete_fields):
            continue
        to_ci.update({(type_id, pk): ci for pk, ci in model._default_manager.filter(pk__in=ids)
                      .values_list("pk", "ci_id") if ci is not None})
    found = [(to_ci[(t, o)], when, source, request_id, _changed(pre, post))
             for t, o, when, source, request_id, pre, post in records if (t, o) in to_ci]
    found = [f for f in found if f[4]]
    ok = covered([(ci, when) for ci, when, *_ in found])
    new = [UnauthorizedChange(ci_id=ci, source=UnauthorizedSource.DISCOVERY, source_ref=f"{source} {request_id}",
                              detected_at=when, detail={"fields": fields, "source": source})
           for ci, when, source, request_id, fields in found if (ci, when) not in ok]
    return _insert(new)


def _changed(pre: Any, post: Any) -> dict[str, Any]:
    """The fields discovery changed: ``{field: [before, after]}`` (bookkeeping like last_seen left out)."""
    if not isinstance(pre, dict) or not isinstance(post, dict):
        return {}
    ignore = {"last_seen", "last_updated", "created"}
    return {k: [pre.get(k), post.get(k)] for k in sorted(set(pre) | set(post))
            if k not in ignore and pre.get(k) != post.get(k)}


def _insert(rows: list[UnauthorizedChange]) -> int:
    if not rows:
        return 0
    before = UnauthorizedChange.objects.count()
    UnauthorizedChange.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return UnauthorizedChange.objects.count() - before


def scan() -> dict[str, int]:
    return {"reconcile": scan_drift(), "discovery": scan_discovery() if apps.is_installed("discovery") else 0}
