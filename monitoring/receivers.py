"""Hook receivers of the monitoring domain: incidents other domains may ask about.

Connected by :class:`monitoring.apps.MonitoringConfig` (``receivers_module``); the hooks are declared
in :mod:`cmdb.core.hooks`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count

from cmdb.core import hooks


def incident_counts(ci_ids: list[int], since: dt.datetime) -> dict[int, int]:
    """Incidents (Alertmanager alerts recorded against a CI) started since ``since``, per CI (one query)."""
    from .models import Incident

    ids = sorted({int(c) for c in ci_ids})
    if not ids:
        return {}
    return dict(Incident.objects.filter(ci_id__in=ids, started_at__gte=since).values("ci_id")
                .annotate(n=Count("id")).values_list("ci_id", "n"))


def _answer_incidents(sender: Any, *, ci_ids: list[int], since: dt.datetime, **kwargs: Any) -> dict[int, int]:
    return incident_counts(ci_ids, since)


def connect() -> None:
    hooks.incidents_for.connect(_answer_incidents, dispatch_uid="monitoring.incidents_for")
