"""The gate: "may these CIs be changed now, by this reconciler or user, with this plan?"

:func:`decide` answers allow or deny with reasons, for ``POST /api/changes/gate/`` (external
automation asks it) and for the reconcile framework, which asks through the hook
:data:`cmdb.core.hooks.reconcile_apply_requested` before every apply (see :mod:`.receivers`) when
the CIs are of at least ``settings.CHANGES_GATE_MIN_CRITICALITY``.

A CI may be changed at a moment when an *authorizing* change covers it: approved, scheduled or in
progress, with the CI among its CIs and the moment inside its window.  Then:

* a freeze in force that blocks the covering change's type denies (an emergency passes, and the
  answer says which freeze it passed);
* with a plan, a covering change that carries plans must carry exactly that plan, approved with
  the same fingerprint ("plan differs from the approved one"); a change without plans is work
  by hand or by any automation on its CIs within its window;
* with a reconciler and no plan, a covering change that carries plans must carry one of that
  reconciler;
* with a user, a change that names an implementer is implemented by them (or a superuser).

The answer costs a fixed number of queries (CI names, covering changes, their plans, freezes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from cmdb.core.choices import Criticality
from cmdb.core.models import ConfigurationItem

from .freezes import blocking
from .models import AUTHORIZED_STATES, Change, ChangePlan, ChangePlanStatus, ChangeType

#: Criticalities from lowest to highest, for the "at least" comparison of the setting.
ORDER = [c.value for c in Criticality]
DEFAULT_MIN_CRITICALITY = "high"


@dataclass
class Decision:
    allow: bool
    reasons: list[str] = field(default_factory=list)
    #: The changes that authorize the CIs (ids), when allowed.
    changes: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"allow": self.allow, "reasons": self.reasons, "changes": self.changes, "notes": self.notes}


def min_criticality() -> str | None:
    """The setting ``CHANGES_GATE_MIN_CRITICALITY``: the reconcile framework asks the gate for CIs of at least
    this criticality; ``None`` or ``"off"``: never (the gate then only answers those who ask)."""
    value = getattr(settings, "CHANGES_GATE_MIN_CRITICALITY", DEFAULT_MIN_CRITICALITY)
    if value in (None, "", "off", "none"):
        return None
    if value not in ORDER:
        raise ValueError(f"CHANGES_GATE_MIN_CRITICALITY must be one of {', '.join(ORDER)} or 'off', not {value!r}")
    return value


def gated(ci_ids: list[int]) -> list[int]:
    """Those of ``ci_ids`` the reconcile framework must ask the gate about (by the setting)."""
    least = min_criticality()
    if least is None or not ci_ids:
        return []
    wanted = ORDER[ORDER.index(least):]
    return list(ConfigurationItem.objects.filter(pk__in=ci_ids, criticality__in=wanted).values_list("pk", flat=True))


def _when(value: dt.datetime) -> str:
    return timezone.localtime(value, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class _Covering:
    """The columns of a covering change the gate reads (not the model: its assessment and radius are large)."""

    pk: int
    type: str
    implementer_id: int | None
    implementer_name: str | None
    emergency_reason: str


@dataclass(frozen=True)
class _Plan:
    plan_id: int
    status: str
    approved_fingerprint: str | None
    reconciler: str


def decide(ci_ids: list[int], *, user: Any = None, reconciler: str | None = None, plan: Any = None,
           at: dt.datetime | None = None) -> Decision:
    """Allow or deny changing ``ci_ids`` at ``at`` (now) by ``reconciler``/``user`` with ``plan`` (a stored
    :class:`~cmdb.reconcile.models.Plan`, or None); the reasons say what is missing.

    Why it reads columns and not models: the answer is on the path of every automated apply
    (p95 goal 20 ms), so it costs two queries when nothing covers the CIs (names, covering changes
    with their columns) and one more per kind of question asked (plans only with a plan or a
    reconciler; freezes only once something covers the CIs).
    """
    at = at or timezone.now()
    ci_ids = list(dict.fromkeys(int(c) for c in ci_ids))
    if plan is not None:
        ci_ids = list(dict.fromkeys([*ci_ids, *plan.items.filter(ci__isnull=False).values_list("ci_id", flat=True)]))
    if not ci_ids:
        return Decision(False, ["Name the CIs to change (or a plan whose items name them)."])
    names = dict(ConfigurationItem.objects.filter(pk__in=ci_ids).values_list("pk", "name"))
    reasons: list[str] = [f"CI {c} does not exist." for c in ci_ids if c not in names]
    covering: dict[int, list[int]] = {}
    changes: dict[int, _Covering] = {}
    rows = Change.cis.through.objects.filter(
        configurationitem_id__in=ci_ids, change__state__in=AUTHORIZED_STATES, change__window_start__lte=at,
        change__window_end__gt=at).values_list(
        "configurationitem_id", "change_id", "change__type", "change__implementer_id",
        f"change__implementer__{get_user_model().USERNAME_FIELD}", "change__emergency_reason")
    for ci, change_id, kind, implementer_id, implementer_name, emergency_reason in rows:
        covering.setdefault(ci, []).append(change_id)
        changes[change_id] = _Covering(change_id, kind, implementer_id, implementer_name, emergency_reason)
    plans: dict[int, list[_Plan]] = {}
    if changes and (plan is not None or reconciler):  # plans matter only to those questions
        for change_id, *values in ChangePlan.objects.filter(change_id__in=list(changes)).values_list(
                "change_id", "plan_id", "status", "approved_fingerprint", "plan__reconciler"):
            plans.setdefault(change_id, []).append(_Plan(*values))
    decision = Decision(True)
    used: set[int] = set()
    for ci in ci_ids:
        if ci not in names:
            continue
        candidates = [changes[i] for i in covering.get(ci, []) if i in changes]
        if not candidates:
            reasons.append(f"No approved change covers CI {names[ci]} (id {ci}) now ({_when(at)}).")
            continue
        why: list[str] = []
        ok = None
        for change in sorted(candidates, key=lambda c: c.pk):
            problem = _problem(change, plans.get(change.pk, []), user=user, reconciler=reconciler, plan=plan)
            if problem is None:
                ok = change
                break
            why.append(problem)
        if ok is None:
            reasons.extend(dict.fromkeys(why))
        else:
            used.add(ok.pk)
    # Freezes in force now, for the type of each authorizing change (an emergency passes, noted).
    for change_id in sorted(used):
        change = changes[change_id]
        mine = [c for c in ci_ids if change_id in covering.get(c, [])]
        moment = (at, at + dt.timedelta(seconds=1))
        if change.type == ChangeType.EMERGENCY:
            decision.notes += [f"Emergency change {change.pk} passes freeze {f.name!r}: {change.emergency_reason}"
                               for f in blocking(mine, *moment, ChangeType.NORMAL)]
            continue
        reasons += [f"Freeze {f.name!r} blocks {change.type} changes until {_when(f.end)}"
                    + (f" ({f.reason})." if f.reason else ".") for f in blocking(mine, *moment, change.type)]
    decision.reasons = list(dict.fromkeys(reasons))
    decision.allow = not decision.reasons
    decision.changes = sorted(used) if decision.allow else []
    return decision


def _problem(change: _Covering, plans: list[_Plan], *, user: Any, reconciler: str | None,
             plan: Any) -> str | None:
    """Why ``change`` does not authorize this request (None: it does)."""
    if plan is not None and plans:
        mine = [p for p in plans if p.plan_id == plan.pk]
        if not mine:
            return f"Plan {plan.pk} is not a plan of change {change.pk}."
        row = mine[0]
        if row.status not in (ChangePlanStatus.APPROVED,) or row.approved_fingerprint != plan.fingerprint:
            return (f"Plan {plan.pk} differs from the one approved with change {change.pk} "
                    f"({row.status}): re-plan and re-approve.")
    elif reconciler and plans and not any(p.reconciler == reconciler for p in plans):
        return f"Change {change.pk} carries no plan of reconciler {reconciler}."
    if user is not None and getattr(user, "is_authenticated", False) and change.implementer_id is not None \
            and change.implementer_id != user.pk and not user.is_superuser:
        return f"Change {change.pk} is to be implemented by {change.implementer_name}."
    return None


def decide_for_apply(*, plan: Any, items: list[Any], user: Any, reconciler: str) -> dict[str, Any] | None:
    """The reconcile framework's question (hook ``reconcile_apply_requested``): None when none of the plan's
    CIs is critical enough for the gate (by the setting), else ``{"allow", "reasons"}``."""
    ci_ids = [i.ci_id for i in items if getattr(i, "ci_id", None) is not None]
    if not gated(ci_ids):
        return None
    decision = decide(ci_ids, user=user, reconciler=reconciler, plan=plan)
    return {"allow": decision.allow, "reasons": decision.reasons}
