"""License compliance: owned against used, per license pool, computed (never stored).

How "used" is counted depends on the license metric:

* ``device``  CIs with an installation of the product, plus CIs given a seat
              explicitly (an assignment) without an installation;
* ``core``    the same CIs, each counting its cores: a VM's vCPUs (rounded up),
              a device's ``cores`` custom field (1 if unknown);
* ``user``, ``subscription``  assigned users, members of assigned groups and
              assigned CIs, distinct;
* ``concurrent``  the peak reported by the license server (``peak_usage``),
              else the number of CIs that have it installed (an upper bound);
* ``site``    unlimited within the licensee: installations are reported, never
              over-used.

Seats used by something other than an installation on a CI — VDI desktops cloned
from a golden image — are asked of the other domains through the hook
``licence_consumption_requested`` (cmdb/core/hooks.py; the core never imports a
domain).  Each answering source is a column of its own (``other_use``, e.g.
``{"vdi": 12}``) next to ``installed``; ``used`` is their sum.  Its demand is
pooled like installations, after them (installations keep their seats first);
a concurrent licence whose server reports a peak already counts those sessions,
so the source's demand is only noted there.

Installation-based demand is pooled: a CI's demand goes first to the pools of
its own tenant, then to pools without a tenant, in order of end date; what no
pool can hold lands on the last pool as over-use.  Expired (or not yet
started) pools hold nothing.  The whole report takes a constant number of
queries, whatever the number of installations (one aggregate query over them).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from .choices import LicenseMetric
from .models import License, LicenseAssignment, SoftwareInstallation

POOLED = {LicenseMetric.DEVICE, LicenseMetric.CORE}


@dataclass
class Pool:
    license_id: int
    name: str
    product_id: int
    product: str
    metric: str
    tenant_id: int | None
    tenant: str | None
    quantity: int
    peak_usage: int | None
    cost: Decimal | None
    currency: str
    start_date: dt.date | None
    end_date: dt.date | None
    used: int = 0
    note: str = ""
    #: seats used per other source (``{"vdi": 12}``); included in ``used``
    other: dict[str, int] = field(default_factory=dict)

    def active(self, today: dt.date) -> bool:
        return (self.start_date is None or self.start_date <= today) and (
            self.end_date is None or self.end_date >= today
        )

    def owned(self, today: dt.date) -> int | None:
        if self.metric == LicenseMetric.SITE:
            return None
        return self.quantity if self.active(today) else 0


@dataclass
class ComplianceReport:
    today: dt.date
    expiring_days: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    cost_per_tenant: list[dict[str, Any]] = field(default_factory=list)
    unlicensed: list[dict[str, Any]] = field(default_factory=list)
    #: the other sources that answered, in order: ``[{"source": "vdi", "label": "VDI"}]``
    sources: list[dict[str, str]] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        count = defaultdict(int)
        for row in self.rows:
            for flag in row["flags"]:
                count[flag] += 1
        return {"licenses": len(self.rows), "over_used": count["over-use"], "expired": count["expired"],
                "expiring": count["expiring"], "with_unused_seats": count["unused-seats"],
                "unlicensed_products": len(self.unlicensed)}

    def as_dict(self) -> dict[str, Any]:
        return {"today": self.today.isoformat(), "expiring_days": self.expiring_days, "summary": self.summary(),
                "licenses": self.rows, "cost_per_tenant": self.cost_per_tenant, "unlicensed": self.unlicensed,
                "sources": self.sources}


def _cores(ci_ids: Any) -> dict[int, int]:
    """Cores per CI: VM vCPUs rounded up, a device's ``cores`` custom field, else 1.

    ``ci_ids`` is a set or a subquery of CI ids (for many CIs: no parameter list of 100,000 ids).
    """
    from cmdb.dcim.models import Device
    from cmdb.virtualization.models import VirtualMachine

    cores: dict[int, int] = {}
    if isinstance(ci_ids, set) and not ci_ids:
        return cores
    for ci_id, vcpus in VirtualMachine.objects.filter(ci_id__in=ci_ids).values_list("ci_id", "vcpus"):
        cores[ci_id] = max(1, math.ceil(vcpus)) if vcpus else 1
    for ci_id, data in Device.objects.filter(ci_id__in=ci_ids).values_list("ci_id", "custom_field_data"):
        value = (data or {}).get("cores")
        cores[ci_id] = int(value) if isinstance(value, int) and value > 0 else 1
    return cores


def _pools(licenses: QuerySet) -> list[Pool]:
    rows = licenses.values_list("id", "name", "product_id", "product__vendor", "product__name", "metric",
                                "tenant_id", "tenant__name", "quantity", "peak_usage", "cost", "currency",
                                "start_date", "end_date")
    return [Pool(r[0], r[1], r[2], f"{r[3]} {r[4]}".strip(), r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
                 r[13]) for r in rows]


def compliance(*, today: dt.date | None = None, expiring_days: int = 30, user: Any = None,
               licenses: QuerySet | None = None, other_use: bool = True) -> ComplianceReport:
    """The compliance report for ``licenses`` (default: every license ``user`` may see).

    ``other_use=False`` leaves out the seats other domains report (the hook): what a domain asks
    when it needs the seats installations leave, to add its own claims (VDI's licence check)."""
    from cmdb.users.permissions import restrict

    today = today or dt.date.today()
    qs = licenses if licenses is not None else License.objects.all()
    if user is not None:
        qs = restrict(qs, user, "view")
    pools = _pools(qs.order_by("product_id", "end_date", "id"))
    report = ComplianceReport(today=today, expiring_days=expiring_days)
    if not pools:
        return report
    by_id = {p.license_id: p for p in pools}

    # Explicit assignments (a small table): CI, user and group seats per license.
    assigned_cis: dict[int, set[int]] = defaultdict(set)
    assigned_users: dict[int, set[int]] = defaultdict(set)
    assigned_groups: dict[int, set[int]] = defaultdict(set)
    for lic, ci, usr, grp in LicenseAssignment.objects.filter(license_id__in=by_id).values_list(
        "license_id", "ci_id", "user_id", "group_id"
    ):
        if ci:
            assigned_cis[lic].add(ci)
        if usr:
            assigned_users[lic].add(usr)
        if grp:
            assigned_groups[lic].add(grp)
    group_members: dict[int, set[int]] = defaultdict(set)
    all_groups = set().union(*assigned_groups.values()) if assigned_groups else set()
    if all_groups:
        through = get_user_model().groups.through
        for uid, gid in through.objects.filter(group_id__in=all_groups).values_list("user_id", "group_id"):
            group_members[gid].add(uid)

    # Installation demand: one aggregate query over all installations of licensed products,
    # and one more for the cores of the CIs running per-core products.
    products = {p.product_id for p in pools}
    per_core_products = {p.product_id for p in pools if p.metric == LicenseMetric.CORE}
    demand, core_demand = _demand(products, cores=bool(per_core_products))

    # Assigned CIs without an installation still hold a seat (device/core metrics).
    extra_cis = {lic: cis for lic, cis in assigned_cis.items() if by_id[lic].metric in POOLED}
    if extra_cis:
        wanted = set().union(*extra_cis.values())
        installed = set(SoftwareInstallation.objects.filter(ci_id__in=wanted, product_id__in=products)
                        .values_list("product_id", "ci_id").distinct())
        extra_core = _cores(wanted) if any(by_id[lic].metric == LicenseMetric.CORE for lic in extra_cis) else {}
        for lic, cis in extra_cis.items():
            pool = by_id[lic]
            for ci in cis:
                if (pool.product_id, ci) not in installed:
                    pool.used += extra_core.get(ci, 1) if pool.metric == LicenseMetric.CORE else 1

    unlicensed: dict[tuple[int, int | None], int] = defaultdict(int)
    groups: dict[tuple[int, str], list[Pool]] = defaultdict(list)
    for pool in pools:
        if pool.metric in POOLED:
            groups[(pool.product_id, pool.metric)].append(pool)
        elif pool.metric in (LicenseMetric.USER, LicenseMetric.SUBSCRIPTION):
            users = set(assigned_users[pool.license_id])
            for gid in assigned_groups[pool.license_id]:
                users |= group_members[gid]
            pool.used = len(users) + len(assigned_cis[pool.license_id])
        elif pool.metric == LicenseMetric.CONCURRENT:
            if pool.peak_usage is not None:
                pool.used = pool.peak_usage
            else:
                pool.used = sum(demand[pool.product_id].values())
                pool.note = "estimated: no peak usage reported, counting installations"
        elif pool.metric == LicenseMetric.SITE:
            pool.used = sum(demand[pool.product_id].values())
    for (product_id, metric), group in groups.items():
        _distribute(group, (core_demand if metric == LicenseMetric.CORE else demand)[product_id], today, unlicensed)
    if other_use:
        report.sources = _other_use(pools, today, unlicensed)

    if user is not None:
        # Shared pools count every tenant's demand, but unlicensed demand is listed per tenant:
        # only for the tenants whose CIs the user may see.
        unlicensed = _visible_demand(unlicensed, user)
    names = dict(_tenant_names({t for _p, t in unlicensed} | {p.tenant_id for p in pools}))
    product_names = {p.product_id: p.product for p in pools}
    report.rows = [_row(p, today, expiring_days) for p in pools]
    report.rows.sort(key=lambda r: (r["product"], r["name"]))
    report.unlicensed = sorted(
        ({"product_id": p, "product": product_names[p], "tenant_id": t, "tenant": names.get(t), "demand": n}
         for (p, t), n in unlicensed.items()), key=lambda r: (r["product"], r["tenant"] or ""))
    costs: dict[int | None, Decimal] = defaultdict(Decimal)
    for pool in pools:
        if pool.cost is not None and pool.active(today):
            costs[pool.tenant_id] += pool.cost
    report.cost_per_tenant = sorted(
        ({"tenant_id": t, "tenant": names.get(t) or "(shared)", "cost": float(c)} for t, c in costs.items()),
        key=lambda r: -r["cost"])
    return report


def _demand(products: set[int], *, cores: bool) -> tuple[dict[int, dict[int | None, int]], dict]:
    """product -> CI tenant -> distinct CIs with an installation, and the sum of their cores.

    Distinct (product, CI) pairs first (a hash aggregate), then grouped by tenant: several
    times faster on PostgreSQL than ``COUNT(DISTINCT ...)``, which sorts every group.
    """
    from django.db import connection

    out: dict[int, dict[int | None, int]] = defaultdict(dict)
    out_cores: dict[int, dict[int | None, int]] = defaultdict(dict)
    if not products:
        return out, out_cores
    q = connection.ops.quote_name
    ids = sorted(products)
    marks = ",".join(["%s"] * len(ids))
    if cores:
        if connection.vendor == "postgresql":
            device_cores = ("CASE WHEN d.custom_field_data->>'cores' ~ '^[1-9][0-9]{0,5}$' "
                            "THEN (d.custom_field_data->>'cores')::int END")
        else:
            device_cores = ("CASE WHEN json_type(d.custom_field_data, '$.cores') = 'integer' "
                            "AND json_extract(d.custom_field_data, '$.cores') > 0 "
                            "THEN json_extract(d.custom_field_data, '$.cores') END")
        weight = f"COALESCE(CAST(CEILING(vm.vcpus) AS INTEGER), {device_cores}, 1)"
        joins = (f"LEFT JOIN {q('virtualization_virtualmachine')} vm ON vm.ci_id = p.ci_id "
                 f"LEFT JOIN {q('dcim_device')} d ON d.ci_id = p.ci_id")
    else:
        weight, joins = "1", ""
    sql = (f"SELECT p.product_id, c.tenant_id, COUNT(*), SUM({weight}) FROM "  # noqa: S608
           f"(SELECT DISTINCT product_id, ci_id FROM {q('software_softwareinstallation')} "
           f"WHERE product_id IN ({marks})) p "
           f"JOIN {q('core_configurationitem')} c ON c.id = p.ci_id {joins} GROUP BY p.product_id, c.tenant_id")
    with connection.cursor() as cur:
        cur.execute(sql, ids)
        for product_id, tenant_id, n, core_sum in cur.fetchall():
            out[product_id][tenant_id] = int(n)
            out_cores[product_id][tenant_id] = int(core_sum)
    return out, out_cores


def _visible_demand(unlicensed: dict[tuple[int, int | None], int], user: Any) -> dict[tuple[int, int | None], int]:
    from cmdb.core.models import ConfigurationItem
    from cmdb.users.permissions import ALL, grants_for

    grants = grants_for(user)
    granted, tenants = grants.lookup(ConfigurationItem._meta.label_lower, "view")
    if grants.superuser or (granted and tenants is ALL):
        return unlicensed
    allowed = tenants if granted and tenants is not ALL else set()
    return {key: n for key, n in unlicensed.items() if key[1] in allowed}


def _tenant_names(ids: set[int | None]) -> list[tuple[int, str]]:
    from cmdb.tenancy.models import Tenant

    return list(Tenant.objects.filter(pk__in=ids - {None}).values_list("pk", "name"))


def _distribute(group: list[Pool], demand: dict[int | None, int], today: dt.date,
                unlicensed: dict[tuple[int, int | None], int]) -> None:
    """Fill a product's pools with per-tenant demand: own tenant's pools, then shared pools."""
    shared = [p for p in group if p.tenant_id is None]
    by_tenant: dict[int, list[Pool]] = defaultdict(list)
    for pool in group:
        if pool.tenant_id is not None:
            by_tenant[pool.tenant_id].append(pool)
    for tenant_id, n in sorted(demand.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
        candidates = (by_tenant.get(tenant_id, []) if tenant_id is not None else []) + shared
        if not candidates:
            unlicensed[(group[0].product_id, tenant_id)] += n
            continue
        remaining = n
        for pool in candidates:
            room = max(0, (pool.owned(today) or 0) - pool.used)
            take = min(room, remaining)
            pool.used += take
            remaining -= take
        if remaining:
            candidates[-1].used += remaining


def _other_use(pools: list[Pool], today: dt.date, unlicensed: dict[tuple[int, int | None], int]
               ) -> list[dict[str, str]]:
    """Add the seats other domains use (hook ``licence_consumption_requested``) to the pools; the sources."""
    from cmdb.core.hooks import licence_consumption_requested

    groups: dict[tuple[int, str], list[Pool]] = defaultdict(list)
    for pool in pools:
        groups[(pool.product_id, pool.metric)].append(pool)
    sources: list[dict[str, str]] = []
    for _receiver, answer in licence_consumption_requested.send(sender=None, products={p.product_id for p in pools}):
        if not answer:
            continue
        source = str(answer["source"])
        sources.append({"source": source, "label": str(answer.get("label") or source)})
        wanted: dict[tuple[int, str], dict[int | None, int]] = defaultdict(lambda: defaultdict(int))
        for row in answer.get("rows") or ():
            for metric, seats in (row.get("seats") or {}).items():
                if seats:
                    wanted[(row["product_id"], metric)][row.get("tenant_id")] += int(seats)
        for key, group in groups.items():
            demand = wanted.get(key)
            if not demand:
                continue
            total = sum(demand.values())
            metric = key[1]
            if metric == LicenseMetric.CONCURRENT and any(p.peak_usage is not None for p in group):
                for pool in group:
                    if pool.peak_usage is not None:
                        pool.note = "; ".join(filter(None, [pool.note, f"{source}: {total} in use, part of the "
                                                                        "reported peak"]))
                continue
            if metric == LicenseMetric.SITE:
                group[0].used += total
                group[0].other[source] = group[0].other.get(source, 0) + total
                continue
            before = [pool.used for pool in group]
            _distribute(group, dict(demand), today, unlicensed)
            for pool, used in zip(group, before, strict=True):
                if pool.used != used:
                    pool.other[source] = pool.other.get(source, 0) + pool.used - used
    return sources


def _row(pool: Pool, today: dt.date, expiring_days: int) -> dict[str, Any]:
    owned = pool.owned(today)
    flags: list[str] = []
    days_left = (pool.end_date - today).days if pool.end_date else None
    if pool.end_date and pool.end_date < today:
        flags.append("expired")
    elif days_left is not None and days_left <= expiring_days:
        flags.append("expiring")
    if pool.start_date and pool.start_date > today:
        flags.append("not-started")
    over = max(0, pool.used - owned) if owned is not None else 0
    unused = max(0, owned - pool.used) if owned is not None else 0
    if over:
        flags.append("over-use")
    if unused:
        flags.append("unused-seats")
    status = "over-use" if over else "expired" if "expired" in flags else "expiring" if "expiring" in flags else "ok"
    return {"license_id": pool.license_id, "name": pool.name, "product_id": pool.product_id,
            "product": pool.product, "metric": pool.metric, "tenant_id": pool.tenant_id, "tenant": pool.tenant,
            "quantity": pool.quantity, "owned": owned, "used": pool.used, "over_use": over, "unused": unused,
            "installed": pool.used - sum(pool.other.values()), "other_use": dict(pool.other),
            "cost": float(pool.cost) if pool.cost is not None else None, "currency": pool.currency,
            "end_date": pool.end_date.isoformat() if pool.end_date else None, "days_to_expiry": days_left,
            "status": status, "flags": flags, "note": pool.note}

