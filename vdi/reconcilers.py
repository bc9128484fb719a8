"""The ``vdi`` reconciler: a thin adapter from the reconcile framework to :mod:`vdi.runs` and :mod:`vdi.plan`.

- kinds: ``vdi.pool``; the framework resolves the scope (``all``, ``name:lab``, ``ci:12``,
  ``tenant:physics``, ...) to pool CIs the requester may view (dry run) or change (apply);
- desired: the pools among them, libvirt and KubeVirt;
- observe: a libvirt pool through :func:`vdi.runs.run_pool` as a dry run (observes the hypervisors and
  plans, changes nothing; a pool whose lease another run holds is reported as failed rather than planned
  as empty); a KubeVirt pool is handed to the Kubernetes domain (:func:`vdi.drivers.kubevirt.handoff`
  through the hook ``kubevirt_objects_published``), which answers the server's dry-run plan of its objects;
- apply: exactly the stored items, under the pool's lease, each with its own outcome; an item the pool
  no longer needs (another run got there first) is skipped, never applied twice.  KubeVirt items go back
  through the hook with ``only`` naming them.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from cmdb.jobs.leases import lease_holder, leased
from cmdb.reconcile.base import DiffItem, ItemOutcome, Reconciler, Target, TargetOutcome, register
from cmdb.reconcile.scope import Selection

from .models import Pool
from .placement import Placement
from .plan import PlanItem, plan_pool

KIND = "vdi.pool"


@register
class VdiReconciler(Reconciler):
    """Libvirt pools' desktops, and KubeVirt pools through the Kubernetes domain (see the module docstring)."""

    name = "vdi"
    summary = ("Provisions the desktops of VDI pools to the pools' sizes: libvirt clones of the golden image, "
               "KubeVirt objects through the Kubernetes domain")
    kinds = (KIND,)

    def desired(self, selection: Selection) -> list[Target]:
        pools = Pool.objects.filter(ci_id__in=selection.ids_of(KIND)).order_by("name")
        return [Target(p.name, p.ci_id, {"pool_id": p.pk, "driver": p.driver}) for p in pools]

    def observe(self, desired: list[Target]) -> dict[str, Any]:
        from .drivers.kubevirt import handoff
        from .runs import run_pool

        pools = Pool.objects.select_related("cluster").in_bulk([t.data["pool_id"] for t in desired])
        return {t.name: handoff(pools[t.data["pool_id"]], user=self.user) if t.data.get("driver") == "kubevirt"
                else run_pool(pools[t.data["pool_id"]], dry_run=True) for t in desired}

    def plan(self, desired: list[Target], observed: dict[str, Any]) -> list[DiffItem]:
        from .drivers.kubevirt import Handoff

        ci = {t.name: t.ci_id for t in desired}
        items = []
        for name, result in observed.items():
            if isinstance(result, Handoff):
                items += [DiffItem(i["action"], name, f"{i['kind']} {i['namespace']}/{i['name']}", i["diff"],
                                   ci.get(name), {"kubevirt": [i["kind"], i["namespace"], i["name"]]})
                          for i in result.changes]
                continue
            items += [DiffItem({"replace": "update"}.get(i.action, i.action), i.pool, i.desktop, i.reason,
                               ci.get(i.pool), i.as_dict()) for i in result.items]
        return items

    def unhealthy(self, observed: dict[str, Any]) -> list[TargetOutcome]:
        from .drivers.kubevirt import Handoff

        out = []
        for name, result in observed.items():
            if isinstance(result, Handoff):
                reasons = [result.error] if result.error else [
                    f"{i['kind']} {i['namespace']}/{i['name']}: {i['message']}" for i in result.failures]
                if reasons:
                    out.append(TargetOutcome(name, "failed", message="; ".join(reasons)[:2000]))
            elif result.held_by:
                out.append(TargetOutcome(name, "failed", message=f"another run holds the pool: {result.held_by}"))
        return out

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
            if "kubevirt" in items[indices[0]].data:
                outcomes += self._apply_kubevirt(pool, items, indices)
                continue
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
                    placement = Placement.of(pool)
                    host_ids = {h.name: h.device_id for h in driver.hosts.values()}
                    for index in indices:
                        stored = PlanItem(**items[index].data)
                        item = still.get((stored.action, stored.desktop))
                        if item is None:
                            outcomes.append(ItemOutcome(index, "skipped", "no longer needed"))
                            continue
                        done = _apply(pool, driver, item, placement, host_ids)
                        placed = f" on {done.host}" if done.host else ""
                        outcomes.append(ItemOutcome(index, done.status, f"{done.message}{placed}"))
                finally:
                    driver.close()
        return outcomes

    def _apply_kubevirt(self, pool: Pool, items: list[DiffItem], indices: list[int]) -> list[ItemOutcome]:
        """The stored items of a KubeVirt pool, carried out by the Kubernetes domain, one outcome each."""
        from .drivers.kubevirt import handoff

        keys = {tuple(items[i].data["kubevirt"]): i for i in indices}
        result = handoff(pool, apply=True, only=list(keys), user=self.user)
        if result.error:
            return [ItemOutcome(i, "failed", result.error) for i in indices]
        done = {(i["kind"], i["namespace"], i["name"]): i for i in result.items}
        outcomes = []
        for key, index in keys.items():
            item = done.get(key)
            if item is None or item["status"] == "planned":  # the pool no longer needs it
                outcomes.append(ItemOutcome(index, "skipped", "no longer needed"))
            else:
                outcomes.append(ItemOutcome(index, item["status"], item["message"]))
        return outcomes
