"""Bringing a pool to its plan: observe, plan, apply per item; and assigning and releasing desktops.

:func:`run_pool` is what the reconciler adapter (and a job, a test, a command) calls.  It holds the lease
``vdi:pool:<id>`` (:mod:`cmdb.jobs.leases`) for the whole observe → plan → apply, so two runs that race
provision once: the second finds the lease taken and does nothing, or runs after the first and plans
nothing.  A dry run observes and plans and changes nothing, neither the hypervisors nor the CMDB.

Each item is applied on its own, its outcome recorded: a create writes the desktop as ``provisioning``
first (committed), then clones; a failure leaves it ``broken`` with the error in its description, and the
next run replaces it, on another host if the first one is unreachable.  New desktops go to the host with
the most room that they fit on (:mod:`vdi.placement`), so a pool spreads over its cluster by capacity.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from cmdb.jobs.leases import lease_holder, leased

from .drivers.libvirt import DriverError, HostTarget, LibvirtDriver
from .models import Desktop, DesktopState, HostCapacity, Pool, PoolType
from .placement import Placement
from .plan import DesktopView, Outcome, PlanItem, plan_pool
from .schedule import wanted_size

log = logging.getLogger(__name__)
LEASE_TTL = 600


@dataclass
class RunResult:
    pool: str
    dry_run: bool
    held_by: str | None = None
    wanted: int = 0
    items: list[PlanItem] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    unreachable: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"pool": self.pool, "dry_run": self.dry_run, "held_by": self.held_by, "wanted": self.wanted,
                "items": [i.as_dict() for i in self.items], "outcomes": [o.as_dict() for o in self.outcomes],
                "unreachable": self.unreachable}


def hosts_of(pool: Pool) -> list[HostTarget]:
    return [HostTarget(device_id, name, uri) for device_id, name, uri in HostCapacity.objects.filter(
        host__cluster_id=pool.cluster_id).exclude(uri="").order_by("host__name").values_list(
        "host_id", "host__name", "uri")]


def driver_for(pool: Pool) -> LibvirtDriver:
    if pool.driver != "libvirt":
        raise DriverError(f"pool {pool.name}: the {pool.driver} driver does not provision desktops here")
    return LibvirtDriver(hosts_of(pool))


def observe(pool: Pool, driver: LibvirtDriver) -> tuple[list[DesktopView], list[str], dict[str, Any]]:
    """The CMDB's desktops of the pool with their domains' existence, and domains the CMDB does not know."""
    domains = driver.domains(f"{pool.name}-")
    rows = list(Desktop.objects.filter(pool=pool).values_list("name", "state", "assigned_user_id", "host__name"))
    known = {r[0] for r in rows}
    views = [DesktopView(name, state, user is not None, name in domains, (domains[name].host if name in domains
                                                                         else host or ""))
             for name, state, user, host in rows]
    # A domain on an unreachable host is unknown, not gone; but the desktop cannot be used: replace it.
    orphans = [n for n in domains if n not in known]
    return views, orphans, domains


def run_pool(pool: Pool, *, dry_run: bool = False, at: dt.datetime | None = None, holder: str | None = None,
             driver: LibvirtDriver | None = None) -> RunResult:
    """Observe, plan and (unless ``dry_run``) apply the pool's desktops, under the pool's lease."""
    holder = holder or f"vdi-run-{uuid.uuid4().hex[:12]}"
    result = RunResult(pool.name, dry_run)
    name = f"vdi:pool:{pool.pk}"
    with leased(name, holder, ttl=LEASE_TTL) as held:
        if not held:
            result.held_by = lease_holder(name) or "another run"
            return result
        own = driver is None
        driver = driver or driver_for(pool)
        try:
            _run(pool, driver, result, at, dry_run)
        finally:
            if own:
                driver.close()
    return result


def _run(pool: Pool, driver: LibvirtDriver, result: RunResult, at: dt.datetime | None, dry_run: bool) -> None:
    pool.refresh_from_db()
    result.wanted = wanted_size(pool, at)
    views, orphans, _domains = observe(pool, driver)
    result.items = plan_pool(pool.name, wanted=result.wanted,
                             spare=pool.spare, max_size=pool.max_size, desktops=views, orphans=orphans)
    result.unreachable = dict(driver.unreachable)
    if dry_run:
        return
    placement = Placement.of(pool)
    host_ids = {h.name: h.device_id for h in driver.hosts.values()}
    for item in result.items:
        result.outcomes.append(_apply(pool, driver, item, placement, host_ids))
    result.unreachable = dict(driver.unreachable)


def _place(driver: LibvirtDriver, placement: Placement, avoid: str = "") -> list[str]:
    """Reachable hosts the desktop fits on, most room first; the host a broken desktop was on last."""
    return placement.order([h for h in driver.hosts if h not in driver.unreachable], avoid)


def _apply(pool: Pool, driver: LibvirtDriver, item: PlanItem, placement: Placement, host_ids: dict) -> Outcome:
    golden = pool.golden_image.name
    if item.action == "delete":
        try:
            if item.host:
                driver.delete(item.host, item.desktop)
            else:
                for host in driver.hosts:
                    if host not in driver.unreachable:
                        driver.delete(host, item.desktop)
        except DriverError as exc:
            return Outcome(item, "failed", str(exc))
        Desktop.objects.filter(pool=pool, name=item.desktop).delete()
        placement.release(item.host)
        return Outcome(item, "ok", "deleted")
    if item.action == "replace" and item.host and item.host not in driver.unreachable:
        try:
            driver.delete(item.host, item.desktop)
            placement.release(item.host)
        except DriverError as exc:
            log.warning("VDI %s: could not delete %s before replacing it: %s", pool.name, item.desktop, exc)
    if item.action == "create":
        with transaction.atomic():
            Desktop(name=item.desktop, pool=pool, state=DesktopState.PROVISIONING).save()
    errors = []
    for host in _place(driver, placement, item.host if item.action == "replace" else ""):
        try:
            domain = driver.create(host, golden, item.desktop, pool.vcpus, pool.memory_mb)
        except DriverError as exc:
            errors.append(str(exc))
            continue
        placement.take(host)
        desktop = Desktop.objects.get(pool=pool, name=item.desktop)
        desktop.state = DesktopState.ASSIGNED if desktop.assigned_user_id else DesktopState.READY
        desktop.host_id, desktop.domain_uuid, desktop.address = host_ids.get(host), domain.uuid, host
        desktop.description = ""
        desktop.save()
        return Outcome(item, "ok", "cloned from " + golden, host)
    reasons = [f"{host} is unreachable: {why}" for host, why in sorted(driver.unreachable.items())]
    reasons += [placement.why_not(h) for h in sorted(driver.hosts) if h not in driver.unreachable]
    message = "; ".join(errors) or "no host can take it: " + ("; ".join(reasons) or "no host has a hypervisor URI")
    Desktop.objects.filter(pool=pool, name=item.desktop).update(state=DesktopState.BROKEN, description=message[:200])
    return Outcome(item, "failed", message)


# --- users ----------------------------------------------------------------------------------------


def assign(pool: Pool, user: Any, *, expires: dt.datetime | None = None) -> Desktop | None:
    """Give ``user`` a desktop of ``pool``: theirs if they have one, else a ready one (None if none is)."""
    with transaction.atomic():
        own = Desktop.objects.select_for_update().filter(pool=pool, assigned_user=user).first()
        desktop = own or Desktop.objects.select_for_update(skip_locked=True).filter(
            pool=pool, state=DesktopState.READY, assigned_user__isnull=True).order_by("name").first()
        if desktop is None:
            return None
        desktop.assigned_user = user
        desktop.state = DesktopState.IN_USE
        desktop.last_used = timezone.now()
        if pool.pool_type == PoolType.PERSISTENT and expires:
            desktop.assignment_expires = expires
        desktop.save()
        return desktop


def release(desktop: Desktop) -> None:
    """The user logged off: a pooled desktop is drained (the next run recycles it); a persistent one
    stays theirs (``assigned``) until its assignment expires."""
    pool = desktop.pool
    desktop.last_used = timezone.now()
    expired = desktop.assignment_expires is not None and desktop.assignment_expires <= timezone.now()
    if pool.pool_type == PoolType.PERSISTENT and not expired:
        desktop.state = DesktopState.ASSIGNED
    else:
        desktop.state = DesktopState.DRAINING
        desktop.assigned_user = None
        desktop.assignment_expires = None
    desktop.save()


def plan_pools(pools: list[Pool], domains: dict[str, set[str]], *, at: dt.datetime | None = None
               ) -> dict[str, list[PlanItem]]:
    """Plans of many pools at once from observed domain names per pool (what the hypervisors listed):
    one query for the desktops, one schedule computation for all pools (rules and lectures: two queries)."""
    from .schedule import Grid, PoolSpec, sizes

    spec_list = [PoolSpec.of(p) for p in pools]
    wanted = sizes(spec_list, Grid.make(at or timezone.now(), 1, 0))[:, 0] if pools else []
    rows: dict[int, list[tuple]] = {p.pk: [] for p in pools}
    for pool_id, name, state, user, host in Desktop.objects.filter(pool__in=pools).values_list(
            "pool_id", "name", "state", "assigned_user_id", "host__name"):
        rows[pool_id].append((name, state, user, host))
    plans = {}
    for pool, size in zip(pools, wanted, strict=True):
        seen = domains.get(pool.name, set())
        known = {r[0] for r in rows[pool.pk]}
        views = [DesktopView(name, state, user is not None, name in seen, host or "")
                 for name, state, user, host in rows[pool.pk]]
        plans[pool.name] = plan_pool(pool.name, wanted=int(size), spare=pool.spare, max_size=pool.max_size,
                                     desktops=views, orphans=sorted(seen - known))
    return plans
