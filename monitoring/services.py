"""Incidents from Alertmanager notifications: open, update, resolve.

Alertmanager sends the whole group on every notification, firing and
resolved alerts alike; :func:`alerts_apply` is idempotent per alert so a
repeated notification only bumps the counter, and handles the whole list in
bulk (a notification of a large outage carries thousands of alerts).  Writes go through the generic
services inside the caller's change-logging context.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from cmdb.core.models import ConfigurationItem
from cmdb.core.services import BatchValidationError, objects_bulk_update, objects_create
from cmdb.services.impact import services_impacted_each
from cmdb.users.permissions import restrict

from .models import Incident, IncidentStatus

__all__ = ["Alert", "BatchValidationError", "alerts_apply", "fingerprint_of"]

log = logging.getLogger(__name__)


@dataclass
class Alert:
    """One entry of Alertmanager's ``alerts`` list, validated."""

    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    generator_url: str
    fingerprint: str

    @property
    def ci_id(self) -> int | None:
        value = self.labels.get("ci_id", "")
        return int(value) if value.isdigit() else None


def fingerprint_of(labels: dict[str, str]) -> str:
    """Alertmanager sends a fingerprint; for older senders derive a stable one from the labels."""
    text = "\x00".join(f"{k}\x01{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def impacted_services(ci_ids: list[int], user: Any) -> dict[int, list[dict[str, Any]]]:
    """Per CI, the services impacted by it going down, from impact analysis (``cmdb.services.impact``)."""
    if not ci_ids:
        return {}
    try:
        found = services_impacted_each(ci_ids, mode="down", user=user)
    except Exception:
        # Recording the incidents matters more than the impact lists; the log keeps the reason.
        log.exception("impact analysis failed for CIs %s", ci_ids[:20])
        return {}
    return {ci: [{"ci_id": svc.get("ci_id", svc.get("id")), "name": str(svc.get("name", "")),
                  "state": svc.get("state", "down")} for svc in services]
            for ci, services in found.items()}


@dataclass
class _Pending:
    """One incident as the notification leaves it: a stored row (``incident``) or one to create."""

    incident: Incident | None
    values: dict[str, Any] = field(default_factory=dict)
    notifications: int = 1
    alert: int = 0  # position of the last alert that changed it, for error messages


@contextlib.contextmanager
def _errors_by_alert(batch: list[_Pending], alerts: int) -> Iterator[None]:
    """Re-raise a write service's errors (by incident) by the position of the alert that last changed each."""
    try:
        yield
    except BatchValidationError as exc:
        by_alert: list[dict[str, list[str]]] = [{} for _ in range(alerts)]
        for pending, errors in zip(batch, exc.errors, strict=True):
            by_alert[pending.alert] = errors
        raise BatchValidationError(by_alert) from exc


def alerts_apply(alerts: list[Alert], *, user: Any) -> list[tuple[str, Incident | None]]:
    """Open, update or resolve the incident of each alert; returns (what happened, incident) per alert.

    The outcome is that of handling the alerts one after the other (a fingerprint that fires twice
    in one notification is opened, then updated; fired then resolved, opened then resolved), but
    in a fixed number of queries for any number of alerts: the open incidents and the alerts' CIs
    are read once, the alerts are played against them in memory, then the changed incidents are
    written with one bulk update and the new ones with one bulk insert (stored incidents first, so
    an incident resolved and reopened in one notification never meets the one-open-per-fingerprint
    constraint), each with its change record.
    """
    now = timezone.now()
    current: dict[str, _Pending] = {
        inc.fingerprint: _Pending(inc, notifications=inc.notifications)
        for inc in Incident.objects.filter(fingerprint__in={a.fingerprint for a in alerts}, status=IncidentStatus.OPEN)
        .select_related("ci")
    }
    wanted = {a.ci_id for a in alerts if a.status != "resolved" and a.ci_id is not None}
    scope = ConfigurationItem.objects.all() if user is None else restrict(ConfigurationItem.objects.all(), user)
    cis = scope.in_bulk(list(wanted)) if wanted else {}
    stored: dict[int, _Pending] = {}
    created: list[_Pending] = []
    outcomes: list[tuple[str, _Pending | None]] = []
    for position, alert in enumerate(alerts):
        pending = current.get(alert.fingerprint)
        if alert.status == "resolved":
            if pending is None:
                outcomes.append(("ignored", None))
                continue
            pending.values.update(status=IncidentStatus.RESOLVED, ended_at=alert.ends_at or now, last_notified=now)
            del current[alert.fingerprint]
            outcome = "resolved"
        elif pending is not None:
            pending.notifications += 1
            pending.values.update(annotations=alert.annotations, summary=alert.annotations.get("summary", "")[:500],
                                  description=alert.annotations.get("description", ""), last_notified=now,
                                  notifications=pending.notifications)
            outcome = "updated"
        else:
            pending = current[alert.fingerprint] = _Pending(None, {
                "fingerprint": alert.fingerprint, "alertname": alert.labels.get("alertname", "")[:200] or "unnamed",
                "severity": alert.labels.get("severity", "")[:50], "ci": cis.get(alert.ci_id),
                "summary": alert.annotations.get("summary", "")[:500],
                "description": alert.annotations.get("description", ""), "labels": alert.labels,
                "annotations": alert.annotations, "generator_url": alert.generator_url[:1000],
                "started_at": alert.starts_at, "last_notified": now,
            })
            created.append(pending)
            outcome = "opened"
        pending.alert = position
        if pending.incident is not None:
            stored[pending.incident.pk] = pending
        outcomes.append((outcome, pending))
    changed = list(stored.values())
    if changed:
        with _errors_by_alert(changed, len(alerts)):
            objects_bulk_update([p.incident for p in changed], [p.values for p in changed], user=user)
    if created:
        impact = impacted_services(list(dict.fromkeys(p.values["ci"].pk for p in created if p.values["ci"])), user)
        for p in created:
            ci = p.values["ci"]
            p.values["impacted_services"] = impact.get(ci.pk, []) if ci is not None else []
        with _errors_by_alert(created, len(alerts)):
            incidents = objects_create(Incident, [p.values for p in created], user=user)
        for p, incident in zip(created, incidents, strict=True):
            p.incident = incident
    return [(outcome, p.incident if p is not None else None) for outcome, p in outcomes]
