"""Read use cases of the monitoring app: the CI rows behind /metrics and the SD targets.

Every function here issues a fixed number of SQL queries whatever the number
of CIs (one per family or source), reads tuples with ``values_list`` and
never touches model instances, so /metrics for 100,000 CIs and the service
discovery for 20,000 targets stay cheap.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.db.models import F, QuerySet

from cmdb.core.models import CIModel, ConfigurationItem
from cmdb.users.permissions import restrict

#: Rows per database round trip when streaming (server-side cursor on PostgreSQL).
CHUNK = 5000


@functools.cache
def site_models() -> tuple[type[CIModel], ...]:
    """CI models with a ``site`` foreign key (devices, racks, VMs, clusters and any later one)."""
    found = []
    for model in apps.get_models():
        if not issubclass(model, CIModel):
            continue
        try:
            f = model._meta.get_field("site")
        except Exception:  # noqa: S112 - a CI model without a site simply does not contribute
            continue
        if f.is_relation and f.related_model._meta.label_lower == "dcim.site":
            found.append(model)
    return tuple(found)


def site_by_ci() -> dict[int, str]:
    """{ci_id: site slug} for every CI kind that has a site: one UNION ALL query."""
    models = site_models()
    if not models:
        return {}
    parts = [m._default_manager.order_by().filter(ci__isnull=False, site__isnull=False)
             .values_list("ci_id", "site__slug") for m in models]
    query = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    return dict(query.iterator(chunk_size=CHUNK))


def service_by_ci() -> dict[int, str]:
    """{ci_id: service name} once the services app (issue 4) provides it; {} until then.

    The services app may offer ``cmdb.services.selectors.service_names_by_ci()`` answering
    with one query; this is the single place that joins it into the CI metrics.
    """
    try:
        from cmdb.services.selectors import service_names_by_ci  # type: ignore[import-not-found]
    except ImportError:
        return {}
    return dict(service_names_by_ci())


def visible_cis(user: Any) -> QuerySet:
    """The CI registry rows the caller may see (``user=None``: an allow-listed network, everything)."""
    qs = ConfigurationItem.objects.all()
    return qs if user is None else restrict(qs, user, "view")


def ci_rows(user: Any) -> Iterator[tuple[int, str, str, str, str, str | None, dt.datetime | None]]:
    """(id, kind, name, status, criticality, tenant slug, last_seen) for every visible CI, streamed."""
    qs = visible_cis(user).order_by("id").values_list(
        "id", "kind", "name", "status", "criticality", F("tenant__slug"), "last_seen"
    )
    return qs.iterator(chunk_size=CHUNK)
