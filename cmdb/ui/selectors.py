"""Read-side queries of the dashboard; each one aggregate query, all through restrict()."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from cmdb.core.choices import LifecycleStatus
from cmdb.core.models import ConfigurationItem, ObjectChange
from cmdb.users.permissions import restrict

from .registry import get, object_url


def _bars(rows: list[tuple[str, int, str | None]]) -> list[dict[str, Any]]:
    """Rows for a horizontal bar chart: label, count, link, and width in percent of the largest."""
    top = max((n for _l, n, _u in rows), default=0) or 1
    return [{"label": label, "n": n, "url": url, "pct": round(100 * n / top, 1)} for label, n, url in rows]


def dashboard_data(user: Any) -> dict[str, Any]:
    from cmdb.dcim.models import Device

    cis = restrict(ConfigurationItem.objects.all(), user, "view")
    ci_list = get(ConfigurationItem).url()
    by_kind = []
    for kind, n in cis.order_by("kind").values("kind").annotate(n=Count("id")).values_list("kind", "n"):
        view = get(kind)
        by_kind.append((view.title if view else kind, n, view.url() if view else f"{ci_list}?kind={kind}"))
    status_names = dict(LifecycleStatus.choices)
    by_status = [
        (str(status_names.get(s, s)), n, f"{ci_list}?status={s}")
        for s, n in cis.order_by("status").values("status").annotate(n=Count("id")).values_list("status", "n")
    ]
    by_tenant = [
        (name or "(no tenant)", n, f"{ci_list}?tenant_id={tid or 'null'}")
        for tid, name, n in cis.values("tenant_id", "tenant__name").annotate(n=Count("id")).order_by("-n")
        .values_list("tenant_id", "tenant__name", "n")[:12]
    ]
    devices = restrict(Device.objects.all(), user, "view")
    device_list = get(Device).url()
    by_site = [
        (name, n, f"{device_list}?site_id={sid}")
        for sid, name, n in devices.values("site_id", "site__name").annotate(n=Count("id")).order_by("-n")
        .values_list("site_id", "site__name", "n")[:12]
    ]
    stale_days = getattr(settings, "STALE_CI_DAYS", 30)
    cutoff = timezone.now() - dt.timedelta(days=stale_days)
    stale_q = cis.filter(Q(last_seen__lt=cutoff), status=LifecycleStatus.ACTIVE)
    stale = []
    for ci in stale_q.order_by("last_seen")[:10]:
        stale.append({"ci": ci, "url": _typed_url(ci)})
    recent = []
    for change in restrict(ObjectChange.objects.all(), user, "view").select_related(
            "changed_object_type").order_by("-time", "-id")[:12]:
        ct = change.changed_object_type
        recent.append({"change": change, "url": object_url(f"{ct.app_label}.{ct.model}", change.changed_object_id)
                       if change.action != "delete" else None})
    return {
        "total": sum(n for _l, n, _u in by_kind),
        "by_kind": _bars(by_kind),
        "by_status": _bars(by_status),
        "by_tenant": _bars(by_tenant),
        "by_site": _bars(by_site),
        "stale": stale,
        "stale_count": stale_q.count(),
        "stale_days": stale_days,
        "stale_url": f"{ci_list}?status=active&last_seen__lt={cutoff.date().isoformat()}",
        "recent": recent,
    }


def _typed_url(ci: ConfigurationItem) -> str | None:
    """The typed object's page for a registry row (the typed row points at the registry row)."""
    view = get(ci.kind)
    if view is None:
        return None
    return f"{view.url()}?q={ci.name}"
