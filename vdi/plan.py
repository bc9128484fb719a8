"""Plans for a pool's desktops: what to create, delete or replace, as plain data.

:func:`plan_pool` compares what a pool wants (its scheduled size, the spare desktops kept ready beyond those
in use, its maximum) with the desktops the CMDB records and the domains the hypervisors report, and answers
a list of :class:`PlanItem`.  It is a pure function (no database, no hypervisor), so the same plan can be
shown in a dry run, stored by the reconcile framework and applied item by item, each item with its own
outcome (:class:`Outcome`).

Rules, in order:

* the target is ``min(max_size, max(wanted, desktops in use + spare))``;
* desktops above the target are deleted, unassigned ones only: first broken or released ones, then ready
  ones, the highest-numbered first (assigned desktops are never taken from their users);
* broken desktops, desktops whose domain is gone, and draining desktops (released desktops of pooled
  pools, expired assignments of persistent ones) are replaced: deleted and cloned afresh from the golden
  image under the same name (a released pooled desktop is thereby recycled: the next user gets a clean one);
* missing desktops up to the target are created, with the lowest free numbers;
* domains named like the pool's desktops that the CMDB does not know are deleted (leftovers of a run that
  died between cloning and recording).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

BUSY = ("assigned", "in_use")


@dataclass(frozen=True)
class DesktopView:
    """One desktop as the CMDB records it, with what the hypervisor says about its domain."""

    name: str
    state: str
    assigned: bool
    exists: bool
    host: str = ""


@dataclass(frozen=True)
class PlanItem:
    action: str  # create | delete | replace
    pool: str
    desktop: str
    reason: str
    host: str = ""  # the host the desktop is on now (a replacement avoids it if it failed)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Outcome:
    item: PlanItem
    status: str  # ok | failed
    message: str = ""
    host: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**self.item.as_dict(), "status": self.status, "message": self.message, "placed_on": self.host}


def desktop_name(pool: str, number: int) -> str:
    return f"{pool}-{number:03d}"


def _number(pool: str, name: str) -> int | None:
    tail = name[len(pool) + 1:]
    return int(tail) if name.startswith(f"{pool}-") and tail.isdigit() else None


def target_size(wanted: int, in_use: int, spare: int, max_size: int) -> int:
    return min(max_size, max(wanted, in_use + spare))


def plan_pool(pool: str, *, wanted: int, spare: int, max_size: int,
              desktops: list[DesktopView], orphans: list[str] = ()) -> list[PlanItem]:
    """The items that bring pool ``pool`` from ``desktops`` (and stray domains ``orphans``) to its target."""
    live = [d for d in desktops if d.state != "deleting"]
    in_use = sum(1 for d in live if d.state in BUSY)
    target = target_size(wanted, in_use, spare, max_size)

    def bad(d: DesktopView) -> str:
        if d.state == "broken":
            return "broken"
        if not d.exists and d.state != "provisioning":
            return "domain missing"
        if d.state == "draining":
            return "released: recycled"
        return ""

    items: list[PlanItem] = []
    surplus = len(live) - target
    deleted: set[str] = set()
    if surplus > 0:
        order = sorted((d for d in live if not d.assigned and d.state not in BUSY),
                       key=lambda d: (not bad(d), d.state != "ready", -(_number(pool, d.name) or 0)))
        for d in order[:surplus]:
            items.append(PlanItem("delete", pool, d.name, f"above the target of {target}", d.host))
            deleted.add(d.name)
    for d in sorted(live, key=lambda d: d.name):
        reason = bad(d)
        if reason and d.name not in deleted:
            items.append(PlanItem("replace", pool, d.name, reason, d.host))
    missing = target - len(live)
    if missing > 0:
        taken = {_number(pool, d.name) for d in desktops}
        number = 1
        while missing:
            if number not in taken:
                items.append(PlanItem("create", pool, desktop_name(pool, number), f"below the target of {target}"))
                missing -= 1
            number += 1
    for name in sorted(orphans):
        items.append(PlanItem("delete", pool, name, "domain unknown to the CMDB"))
    return items
