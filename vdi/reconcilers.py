"""The ``vdi`` reconciler: a thin adapter from the reconcile framework to :mod:`vdi.runs` and :mod:`vdi.plan`.

- kinds: ``vdi.pool``; the framework resolves the scope (``all``, ``name:lab``, ``ci:12``,
  ``tenant:physics``, ...) to pool CIs the requester may view (dry run) or change (apply);
- desired: the libvirt pools among them (KubeVirt pools are not provisioned here);
- observe: :func:`vdi.runs.run_pool` as a dry run (observes the hypervisors and plans, changes nothing);
  a pool whose lease another run holds is reported as failed rather than planned as empty;
- apply: exactly the stored items, under the pool's lease, each with its own outcome; an item the pool
  no longer needs (another run got there first) is skipped, never applied twice.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from typing import Any

from cmdb.jobs.leases import lease_holder, leased
from cmdb.reconcile.base import DiffItem, ItemOutcome, Reconciler, Target, TargetOutcome, register
from cmdb.reconcile.scope import Selection

from .models import Pool
from .plan import PlanItem, plan_pool

KIND = "vdi.pool"


@register
class VdiReconciler(Reconciler):
    """Libvirt pools' desktops (see the module docstring)."""

    name = "vdi"
    summary = "Provisions the desktops of libvirt VDI pools (clones of the golden image) to the pools' sizes"
    kinds = (KIND,)

    def desired(self, selection: Selection) -> list[Target]:
        ids = selection.ids_of(KIND)
        pools = list(Pool.objects.filter(ci_id__in=ids, driver="libvirt").order_by("name"))
        if len(pools) < len(ids):
            self.log(f"{len(ids) - len(pools)} pools in scope are not libvirt pools; left out")
        return [Target(p.name, p.ci_id, {"pool_id": p.pk}) for p in pools]

    def observe(self, desired: list[Target]) -> dict[str, Any]:
        from .runs import run_pool

        pools = Pool.objects.in_bulk([t.data["pool_id"] for t in desired])
        return {t.name: run_pool(pools[t.data["pool_id"]], dry_run=True) for t in desired}

    def plan(self, desired: list[Target], observed: dict[str, Any]) -> list[DiffItem]:
        ci = {t.name: t.ci_id for t in desired}
        return [DiffItem({"replace": "update"}.get(i.action, i.action), i.pool, i.desktop, i.reason, ci.get(i.pool),
                         i.as_dict()) for result in observed.values() for i in result.items]

    def unhealthy(self, observed: dict[str, Any]) -> list[TargetOutcome]:
        return [TargetOutcome(name, "failed", message=f"another run holds the pool: {result.held_by}")
                for name, result in observed.items() if result.held_by]

    def apply(self, desired: list[Target], items: list[DiffItem]) -> list[ItemOutcome | TargetOutcome]:
        from .runs import LEASE_TTL, _apply, driver_for, observe
        from .schedule import wanted_size

        by_pool: dict[str, list[int]] = defaultdict(list)
        for index, item in enumerate(items):
            by_pool[item.target].append(index)
        targets = {t.name: t for t in desired}
        outcomes: list[ItemOutcome | TargetOutcome] = []
        for name, indices in by_pool.items():
            pool = Pool.objects.get(pk=targets[name].data["pool_id"])
            lease = f"vdi:pool:{pool.pk}"
            with leased(lease, f"vdi-reconcile-{uuid.uuid4().hex[:12]}", ttl=LEASE_TTL) as held:
                if not held:
                    holder = lease_holder(lease) or "another run"
                    outcomes.append(TargetOutcome(name, "failed", message=f"another run holds the pool: {holder}"))
                    continue
                driver = driver_for(pool)
                try:
                    # The pool's plan again, under its lease: what a racing run already did is not redone.
                    views, orphans, _domains = observe(pool, driver)
                    still = {(i.action, i.desktop): i for i in plan_pool(
                        pool.name, wanted=wanted_size(pool), spare=pool.spare, max_size=pool.max_size,
                        desktops=views, orphans=orphans)}
                    load = Counter(v.host for v in views if v.host)
                    host_ids = {h.name: h.device_id for h in driver.hosts.values()}
                    for index in indices:
                        stored = PlanItem(**items[index].data)
                        item = still.get((stored.action, stored.desktop))
                        if item is None:
                            outcomes.append(ItemOutcome(index, "skipped", "no longer needed"))
                            continue
                        done = _apply(pool, driver, item, load, host_ids)
                        placed = f" on {done.host}" if done.host else ""
                        outcomes.append(ItemOutcome(index, done.status, f"{done.message}{placed}"))
                finally:
                    driver.close()
        return outcomes
