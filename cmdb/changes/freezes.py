"""Freeze periods: which freezes block a change of some type to some CIs in some window.

A freeze covers the CIs of its services (the service's own CI and everything it depends on,
through the services graph), of its tenants (the CI's tenant) and of its sites (the typed
object's site); with none of the three it covers every CI.  It blocks the change types in
``blocks_types`` (by default normal changes); emergency changes pass, with their reason recorded
by the transition that lets them through.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist

from cmdb.core.models import ConfigurationItem

from .models import Freeze


def blocks_type(freeze: Freeze, change_type: str) -> bool:
    return change_type in (freeze.blocks_types or ["normal"])


def blocking(ci_ids: Iterable[int], start: dt.datetime, end: dt.datetime, change_type: str) -> list[Freeze]:
    """The freezes overlapping ``[start, end)`` that block ``change_type`` for at least one of ``ci_ids``.

    A fixed number of queries: the overlapping freezes with their scopes, then the CIs' tenants,
    sites and service stacks only when some freeze asks for them.
    """
    ci_ids = list(dict.fromkeys(int(c) for c in ci_ids))
    freezes = [f for f in Freeze.objects.filter(start__lt=end, end__gt=start)
               .prefetch_related("services", "tenants", "sites").order_by("start", "pk")
               if blocks_type(f, change_type)]
    if not freezes or not ci_ids:
        return [f for f in freezes if _covers_everything(f)] if not ci_ids else []
    wanted_tenants = {t.pk for f in freezes for t in f.tenants.all()}
    wanted_sites = {s.pk for f in freezes for s in f.sites.all()}
    wanted_services = {s.ci_id for f in freezes for s in f.services.all()}
    tenants = dict(ConfigurationItem.objects.filter(pk__in=ci_ids).values_list("pk", "tenant_id")) \
        if wanted_tenants else {}
    sites = ci_sites(ci_ids) if wanted_sites else {}
    stacks = service_members(wanted_services) if wanted_services else {}
    mine = set(ci_ids)
    out = []
    for freeze in freezes:
        if _covers_everything(freeze):
            out.append(freeze)
            continue
        freeze_tenants = {t.pk for t in freeze.tenants.all()}
        freeze_sites = {s.pk for s in freeze.sites.all()}
        if any(tenants.get(c) in freeze_tenants for c in ci_ids if tenants.get(c) is not None) \
                or any(sites.get(c) in freeze_sites for c in ci_ids if sites.get(c) is not None) \
                or any(stacks.get(s.ci_id, set()) & mine for s in freeze.services.all()):
            out.append(freeze)
    return out


def _covers_everything(freeze: Freeze) -> bool:
    return not (freeze.services.all() or freeze.tenants.all() or freeze.sites.all())


def ci_sites(ci_ids: list[int]) -> dict[int, int]:
    """Registry id → site id of the typed object, for every kind whose table has a ``site`` (one query per kind)."""
    by_kind: dict[str, list[int]] = defaultdict(list)
    for pk, kind in ConfigurationItem.objects.filter(pk__in=ci_ids).values_list("pk", "kind"):
        by_kind[kind].append(pk)
    out: dict[int, int] = {}
    for kind, ids in by_kind.items():
        try:
            model = apps.get_model(kind)
            model._meta.get_field("site")
            model._meta.get_field("ci")
        except (LookupError, ValueError, FieldDoesNotExist):
            continue
        out.update({ci: site for ci, site in model._default_manager.filter(ci_id__in=ids)
                    .values_list("ci_id", "site_id") if site is not None})
    return out


def service_members(service_ci_ids: Iterable[int]) -> dict[int, set[int]]:
    """Service CI id → the CIs of that service: its own CI and its whole dependency stack."""
    from cmdb.services.impact import dependencies_of

    out: dict[int, set[int]] = {}
    for root in service_ci_ids:
        if root is None:
            continue
        try:
            rows = dependencies_of([root])["dependencies"]
        except (LookupError, ValueError):
            rows = []
        out[root] = {root, *(row["ci_id"] for row in rows)}
    return out
