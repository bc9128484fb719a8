"""Licence coupling: a pool's desktops consume the licences of the software on its golden image.

Each desktop is a copy of the golden image, so every product installed there (``SoftwareInstallation``
rows of the golden image's CI) is needed once per desktop.  A pool claims, per licence metric, what it
could use at its maximum size: ``device``, ``user``, ``concurrent`` and ``subscription`` seats one per
desktop, ``core`` seats the desktops' vCPUs, ``site`` licences nothing.  Seats left are what the
compliance report (:mod:`cmdb.software.compliance`) leaves unused by physical installations, for the
active licences of the pool's tenant and shared ones, minus the claims of the tenant's other pools.
Products without any licence (free software) are not counted.

What the desktops that exist use now is answered to the compliance report through the hook
``licence_consumption_requested`` (:func:`consumption`, connected in :mod:`vdi.receivers`): its VDI column.

Growing past the seats left is refused unless every licence of the product has a :class:`LicencePolicy`
of ``warn``; then the change goes through and the shortfall is reported as a warning.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from .schedule import PoolSpec, specs

PER_DESKTOP = {"device": 1, "user": 1, "concurrent": 1, "subscription": 1}


def claim(pool: PoolSpec, metric: str) -> int:
    """Seats of ``metric`` the pool claims at its maximum size."""
    if metric == "core":
        return pool.max_size * pool.vcpus
    return pool.max_size * PER_DESKTOP.get(metric, 0)


@dataclass
class ProductSeats:
    product_id: int
    product: str
    metric: str
    owned: int
    physical: int
    vdi: int
    licences: list[int]
    warn_only: bool

    @property
    def left(self) -> int:
        return self.owned - self.physical - self.vdi

    def as_dict(self) -> dict[str, Any]:
        return {"product_id": self.product_id, "product": self.product, "metric": self.metric,
                "owned": self.owned, "physical": self.physical, "vdi": self.vdi, "left": self.left,
                "licences": self.licences, "policy": "warn" if self.warn_only else "refuse"}


def _products(golden_ids: set[int]) -> dict[int, set[int]]:
    from cmdb.software.models import SoftwareInstallation

    out: dict[int, set[int]] = defaultdict(set)
    for ci_id, product_id in SoftwareInstallation.objects.filter(ci_id__in=golden_ids).values_list(
            "ci_id", "product_id").distinct():
        out[ci_id].add(product_id)
    return out


def seats(tenant_id: int | None, pools: list[PoolSpec]) -> list[ProductSeats]:
    """Seats per (product, metric) for the tenant's pools ``pools``: owned, used physically, claimed by VDI."""
    from cmdb.software.compliance import compliance
    from cmdb.software.models import License

    from .models import LicencePolicy

    products_of = _products({p.golden_image_id for p in pools})
    products = set().union(*products_of.values()) if products_of else set()
    if not products:
        return []
    licences = License.objects.filter(product_id__in=products).filter(Q(tenant_id=tenant_id) | Q(tenant__isnull=True))
    report = compliance(licenses=licences, other_use=False)  # installations only: the pools' claims are added here
    warn = set(LicencePolicy.objects.filter(license__in=licences, on_exceed="warn").values_list("license_id",
                                                                                               flat=True))
    groups: dict[tuple[int, str], ProductSeats] = {}
    for row in report.rows:
        if row["owned"] is None:  # a site licence: unlimited
            continue
        key = (row["product_id"], row["metric"])
        g = groups.setdefault(key, ProductSeats(row["product_id"], row["product"], row["metric"], 0, 0, 0, [], True))
        g.owned += row["owned"]
        g.physical += row["used"]
        g.licences.append(row["license_id"])
        g.warn_only = g.warn_only and row["license_id"] in warn
    for pool in pools:
        for product_id in products_of.get(pool.golden_image_id, ()):
            for (pid, metric), g in groups.items():
                if pid == product_id:
                    g.vdi += claim(pool, metric)
    return sorted(groups.values(), key=lambda g: (g.product, g.metric))


def _short(groups: list[ProductSeats]) -> dict[int, tuple[int, list[ProductSeats]]]:
    """Products none of whose licence groups covers the demand: product -> (worst shortfall, groups)."""
    by_product: dict[int, list[ProductSeats]] = defaultdict(list)
    for g in groups:
        by_product[g.product_id].append(g)
    return {pid: (min(-g.left for g in gs), gs) for pid, gs in by_product.items() if all(g.left < 0 for g in gs)}


def check(candidate: PoolSpec) -> tuple[list[str], list[str]]:
    """(refusals, warnings) for the pool change ``candidate``: a product whose seats it would exhaust,
    or exhaust further than they already are."""
    from .models import Pool

    others = [p for p in specs(Pool.objects.filter(tenant_id=candidate.tenant_id)) if p.id != candidate.id]
    after = _short(seats(candidate.tenant_id, [*others, candidate]))
    if not after:
        return [], []
    stored = [p for p in specs(Pool.objects.filter(pk=candidate.id))] if candidate.id else []
    before = _short(seats(candidate.tenant_id, [*others, *stored]))
    refusals, warnings = [], []
    for product_id, (short, groups) in after.items():
        if short <= before.get(product_id, (0, []))[0]:
            continue
        g = groups[0]
        text = (f"{g.product}: the pools would need {g.vdi} {g.metric} seats; {g.owned} owned, {g.physical} used "
                f"by installations, {short} short.")
        (warnings if all(x.warn_only for x in groups) else refusals).append(text)
    return refusals, warnings


def consumption(products: set[int]) -> list[dict[str, Any]]:
    """Seats the existing desktops use now, per product of their golden images and desktop tenant.

    A desktop (any state but ``deleting``: it exists on a hypervisor) uses one ``device``, ``user``,
    ``subscription`` and ``site`` seat and its pool's vCPUs in ``core`` seats; only desktops ``in_use``
    use a ``concurrent`` seat.  Two queries, whatever the number of desktops.
    """
    from django.db.models import Count, Q

    from cmdb.software.models import SoftwareInstallation

    from .models import Desktop, DesktopState, Pool

    if not products:
        return []
    installed: dict[int, set[int]] = defaultdict(set)
    for ci_id, product_id in SoftwareInstallation.objects.filter(
            product_id__in=products, ci_id__in=Pool.objects.values("golden_image_id")).values_list(
            "ci_id", "product_id").distinct():
        installed[ci_id].add(product_id)
    if not installed:
        return []
    seats_of: dict[tuple[int, int | None], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = Desktop.objects.exclude(state=DesktopState.DELETING).filter(pool__golden_image_id__in=installed).values_list(
        "pool__golden_image_id", "tenant_id", "pool__vcpus").annotate(
        total=Count("id"), in_use=Count("id", filter=Q(state=DesktopState.IN_USE))).order_by()
    for golden, tenant_id, vcpus, total, in_use in rows:
        for product_id in installed[golden]:
            seats = seats_of[(product_id, tenant_id)]
            for metric in ("device", "user", "subscription", "site"):
                seats[metric] += total
            seats["core"] += total * vcpus
            seats["concurrent"] += in_use
    return [{"product_id": product_id, "tenant_id": tenant_id, "seats": dict(seats)}
            for (product_id, tenant_id), seats in sorted(seats_of.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))]
