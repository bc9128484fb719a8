"""The ``vdi`` reconciler: a thin adapter from the reconcile framework to :func:`vdi.runs.run_pool`.

The domain logic (observe, plan, apply per item, the pool's lease) is in :mod:`vdi.runs` and
:mod:`vdi.plan`; this adapter only maps scopes to pools and plan items to the framework's types.
"""

from __future__ import annotations

from typing import Any

from cmdb.reconcile.base import DiffItem, Reconciler, Target, TargetOutcome, register

from .models import Pool


@register
class VdiReconciler(Reconciler):
    name = "vdi"

    def desired(self, scope: str) -> list[Target]:
        pools = Pool.objects.filter(driver="libvirt")
        if scope.startswith("ci:"):
            pools = pools.filter(ci_id__in=[int(x) for x in scope[3:].split(",") if x.strip().isdigit()])
        elif scope.startswith("pool:"):
            pools = pools.filter(name__in=scope[5:].split(","))
        elif scope != "all":
            raise ValueError(f"vdi: unknown scope {scope!r}; use all, pool:<name,...> or ci:<id,...>")
        return [Target(p.name, p.ci_id, {"pool_id": p.pk}) for p in pools]

    def observe(self, desired: list[Target]) -> dict[str, Any]:
        from .runs import run_pool

        return {t.name: run_pool(Pool.objects.get(pk=t.data["pool_id"]), dry_run=True) for t in desired}

    def plan(self, desired: list[Target], observed: dict[str, Any]) -> list[DiffItem]:
        ci = {t.name: t.ci_id for t in desired}
        return [DiffItem({"replace": "update"}.get(i.action, i.action), i.pool, i.desktop, i.reason, ci.get(i.pool),
                         i.as_dict()) for result in observed.values() for i in result.items]

    def apply(self, desired: list[Target], items: list[DiffItem]) -> list[TargetOutcome]:
        from .runs import run_pool

        outcomes = []
        for t in desired:
            result = run_pool(Pool.objects.get(pk=t.data["pool_id"]))
            failed = [o for o in result.outcomes if o.status != "ok"]
            if result.held_by:
                outcomes.append(TargetOutcome(t.name, "failed", 0, f"another run holds the pool: {result.held_by}"))
            else:
                outcomes.append(TargetOutcome(t.name, "failed" if failed else "ok",
                                              len(result.outcomes) - len(failed),
                                              "; ".join(f"{o.item.desktop}: {o.message}" for o in failed)))
        return outcomes
