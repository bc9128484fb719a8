"""Staleness: a discovered CI not reported for ``STALE_DAYS`` is flagged, never deleted.

:func:`flag_stale` runs from ``cmdb discover stale`` (cron/systemd timer) and as the job
``discovery.stale`` on a schedule; an ingest clears the flag again.  Both
directions are logged as changes.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from cmdb.core import changelog
from cmdb.core.choices import ChangeAction
from cmdb.core.context import change_logging
from discovery import conf
from discovery.models import Host


def stale_before(now: dt.datetime | None = None, days: int | None = None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(days=conf.get("STALE_DAYS") if days is None else days)


def flag_stale(*, now: dt.datetime | None = None, days: int | None = None) -> int:
    """Flag hosts last seen before the threshold; returns how many became stale (one UPDATE, one log batch)."""
    threshold = stale_before(now, days)
    with change_logging(source="discovery:staleness"):
        hosts = list(Host.objects.filter(Q(last_seen__lt=threshold) | Q(last_seen__isnull=True), stale=False)
                     .select_for_update())
        if not hosts:
            return 0
        tags = changelog.tags_by_object(hosts)
        pre = {h.pk: h.snapshot(tags=tags.get((h._meta.label_lower, h.pk), [])) for h in hosts}
        Host.objects.filter(pk__in=list(pre)).update(stale=True)
        for h in hosts:
            h.stale = True
        changelog.note_many(hosts, ChangeAction.UPDATE, pre)
    return len(hosts)
