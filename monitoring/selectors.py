"""Read use cases of the monitoring app: the CI rows behind /metrics and the SD targets.

Every function here issues a fixed number of SQL queries whatever the number
of CIs (one per family or source), reads tuples with ``values_list`` and
never touches model instances, so /metrics for 100,000 CIs and the service
discovery for 20,000 targets stay cheap.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.db import connections
from django.db.models import F, FloatField, Func, QuerySet

from cmdb.core.models import CIModel, ConfigurationItem
from cmdb.services.selectors import service_names_by_ci
from cmdb.users.permissions import restrict

#: Rows per database round trip when streaming (server-side cursor on PostgreSQL).
CHUNK = 5000


class Epoch(Func):
    """A timestamp as Unix seconds (float), computed by the database.

    Converting 100,000 ``timestamptz`` values into aware datetimes costs more than
    the whole query; the text format wants a number anyway.
    """

    output_field = FloatField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)::float8", **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Django stores UTC text; julianday keeps the fraction of a second.
        return self.as_sql(compiler, connection, template="(julianday(%(expressions)s) - 2440587.5) * 86400.0",
                           **extra)


def raw_rows(queryset: QuerySet) -> Iterator[tuple[Any, ...]]:
    """The tuples of a ``values_list`` queryset straight from the database cursor, streamed in chunks.

    Same SQL as iterating the queryset (filters, permissions and joins included), without
    Django's per-row conversion, which costs about as much as the query for 100,000 rows.
    Only for columns whose database value is already what we want (text, numbers, NULL).
    """
    sql, params = queryset.query.sql_with_params()
    connection = connections[queryset.db]
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(CHUNK):
            yield from rows


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
    return dict(raw_rows(query))


def service_by_ci() -> dict[int, str]:
    """{ci_id: service name} from the services app (``service_names_by_ci``, one query).

    This is the single place that joins the service names into the CI metrics.
    """
    return dict(service_names_by_ci())


def visible_cis(user: Any) -> QuerySet:
    """The CI registry rows the caller may see (``user=None``: an allow-listed network, everything)."""
    qs = ConfigurationItem.objects.all()
    return qs if user is None else restrict(qs, user, "view")


def ci_rows(user: Any) -> Iterator[tuple[int, str, str, str, str, str | None, float | None]]:
    """(id, kind, name, status, criticality, tenant slug, last seen as Unix time) for every visible CI, streamed."""
    qs = visible_cis(user).order_by("id").values_list(
        "id", "kind", "name", "status", "criticality", F("tenant__slug"), Epoch("last_seen")
    )
    return raw_rows(qs)
