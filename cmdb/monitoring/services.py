"""Incidents from Alertmanager notifications: open, update, resolve.

Alertmanager sends the whole group on every notification, firing and
resolved alerts alike; :func:`alert_apply` is idempotent per alert so a
repeated notification only bumps the counter.  Writes go through the generic
services inside the caller's change-logging context.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from cmdb.core.models import ConfigurationItem
from cmdb.core.services import BatchValidationError, objects_create, objects_update
from cmdb.users.permissions import restrict

from .models import Incident, IncidentStatus

__all__ = ["Alert", "BatchValidationError", "alert_apply", "fingerprint_of"]

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


def impacted_services(ci_id: int | None, user: Any) -> list[dict[str, Any]]:
    """Services impacted by the CI going down, from impact analysis (issue 4) when it is installed."""
    if ci_id is None:
        return []
    try:
        from cmdb.services.impact import impact_of  # type: ignore[import-not-found]
    except ImportError:
        return []
    try:
        result = impact_of([ci_id], mode="down", user=user)
    except Exception:
        # Recording the incident matters more than the impact list; the log keeps the reason.
        log.exception("impact analysis failed for CI %s", ci_id)
        return []
    services = []
    for svc in getattr(result, "services", []) or []:
        get = svc.get if isinstance(svc, dict) else lambda k, d=None, s=svc: getattr(s, k, d)
        services.append({"ci_id": get("ci_id", get("id")), "name": str(get("name", "")),
                         "state": get("state", "down")})
    return services


def alert_apply(alert: Alert, *, user: Any) -> tuple[str, Incident | None]:
    """Open, update or resolve the incident for one alert; returns (what happened, incident)."""
    open_incident = Incident.objects.filter(fingerprint=alert.fingerprint, status=IncidentStatus.OPEN).first()
    now = timezone.now()
    if alert.status == "resolved":
        if open_incident is None:
            return "ignored", None
        objects_update([open_incident], [{"status": IncidentStatus.RESOLVED, "ended_at": alert.ends_at or now,
                                          "last_notified": now}], user=user)
        return "resolved", open_incident
    if open_incident is not None:
        objects_update([open_incident], [{
            "annotations": alert.annotations, "summary": alert.annotations.get("summary", "")[:500],
            "description": alert.annotations.get("description", ""), "last_notified": now,
            "notifications": open_incident.notifications + 1,
        }], user=user)
        return "updated", open_incident
    ci = None
    if alert.ci_id is not None:
        scope = ConfigurationItem.objects.all() if user is None else restrict(ConfigurationItem.objects.all(), user)
        ci = scope.filter(pk=alert.ci_id).first()
    created = objects_create(Incident, [{
        "fingerprint": alert.fingerprint, "alertname": alert.labels.get("alertname", "")[:200] or "unnamed",
        "severity": alert.labels.get("severity", "")[:50], "ci": ci,
        "summary": alert.annotations.get("summary", "")[:500], "description": alert.annotations.get("description", ""),
        "labels": alert.labels, "annotations": alert.annotations, "generator_url": alert.generator_url[:1000],
        "started_at": alert.starts_at, "last_notified": now,
        "impacted_services": impacted_services(ci.pk if ci else None, user),
    }], user=user)
    return "opened", created[0]
