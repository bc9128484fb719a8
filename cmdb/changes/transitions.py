"""The state machine of a change: the only code that writes ``Change.state``.

::

    draft ─▶ submitted ─▶ approved ─▶ scheduled ─▶ in_progress ─▶ completed | failed | rolled_back
                     └──▶ rejected                                              (failed ─▶ rolled_back)
    cancelled from any open state; approved/scheduled ─▶ submitted (re-approve after a re-plan);
    in_progress ─▶ submitted only by the apply, when its first plan was stale (nothing was applied)

Every transition is written with a :class:`~cmdb.changes.models.ChangeTransition` row (who, from,
to, why) in one change-logged transaction, so the hash-chained audit log holds the state's
before/after and the reason.  A transition the table does not allow, or whose preconditions fail,
raises :class:`TransitionRefused` naming the transitions that are allowed from the current state;
the API turns it into a 400.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from cmdb.core.context import change_logging

from .models import Change, ChangeState, ChangeTransition, ChangeType

S = ChangeState

#: From each state, the states a change may move to.
ALLOWED: dict[str, tuple[str, ...]] = {
    S.DRAFT: (S.SUBMITTED, S.CANCELLED),
    S.SUBMITTED: (S.APPROVED, S.REJECTED, S.CANCELLED),
    S.APPROVED: (S.SCHEDULED, S.SUBMITTED, S.CANCELLED),
    S.REJECTED: (),
    S.SCHEDULED: (S.IN_PROGRESS, S.SUBMITTED, S.CANCELLED),
    S.IN_PROGRESS: (S.COMPLETED, S.FAILED, S.ROLLED_BACK, S.CANCELLED, S.SUBMITTED),
    S.COMPLETED: (),
    S.FAILED: (S.ROLLED_BACK,),
    S.ROLLED_BACK: (),
    S.CANCELLED: (),
}

#: Targets only the approvals module reaches (a quorum, a rejection, a template's pre-approval).
DECIDED_BY_APPROVALS = (S.APPROVED, S.REJECTED)
#: Events notifications are sent for, by target state.
EVENTS = {S.SUBMITTED: "submitted", S.APPROVED: "approved", S.REJECTED: "rejected", S.IN_PROGRESS: "started",
          S.COMPLETED: "ended", S.FAILED: "ended", S.ROLLED_BACK: "ended", S.CANCELLED: "ended"}

#: States in which a change is over (rejected too): it holds no collisions any more.
ENDED = (S.COMPLETED, S.FAILED, S.ROLLED_BACK, S.CANCELLED, S.REJECTED)


class TransitionRefused(ValueError):
    """A transition that may not happen; ``allowed`` lists where the change may go from its state."""

    def __init__(self, change: Change, to: str, why: str, allowed: tuple[str, ...] | None = None) -> None:
        self.change_id = change.pk
        self.state = change.state
        self.to = to
        self.allowed = tuple(ALLOWED.get(change.state, ())) if allowed is None else allowed
        self.why = why
        listed = ", ".join(self.allowed) or "none (the change is closed)"
        super().__init__(f"Change {change.pk} cannot go from {change.state} to {to}: {why} "
                         f"Allowed from {change.state}: {listed}.")

    def as_dict(self) -> dict[str, Any]:
        return {"detail": str(self), "state": self.state, "to": self.to, "allowed": list(self.allowed)}


def allowed_from(state: str) -> tuple[str, ...]:
    return ALLOWED.get(state, ())


def _submit_problems(change: Change) -> list[str]:
    problems = []
    if change.window_start is None or change.window_end is None:
        problems.append("the change needs a planned window (window_start and window_end).")
    if not change.cis.exists():
        problems.append("the change names no affected CI.")
    if change.type == ChangeType.EMERGENCY and not change.emergency_reason.strip():
        problems.append("an emergency change needs an emergency_reason.")
    if change.type == ChangeType.STANDARD and change.template_id is None:
        problems.append("a standard change is made from a template.")
    return problems


def _freeze_problems(change: Change) -> tuple[list[str], list[str]]:
    """(refusals, notes): freezes blocking this change's type refuse it; an emergency passes with a note."""
    from .freezes import blocking

    if change.window_start is None or change.window_end is None:
        return [], []
    ci_ids = list(change.cis.values_list("pk", flat=True))
    found = blocking(ci_ids, change.window_start, change.window_end, change.type)
    if change.type == ChangeType.EMERGENCY:
        # An emergency passes every freeze; the ones that would block a normal change are recorded.
        found = blocking(ci_ids, change.window_start, change.window_end, ChangeType.NORMAL)
        notes = [f"freeze {f.name!r} ({_when(f.start)} to {_when(f.end)}) passed as an emergency: "
                 f"{change.emergency_reason.strip()}" for f in found]
        return [], notes
    return [f"freeze {f.name!r} blocks {change.type} changes from {_when(f.start)} until {_when(f.end)}"
            + (f" ({f.reason})" if f.reason else "") + "." for f in found], []


def _when(value: dt.datetime) -> str:
    return timezone.localtime(value, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def transition(change: Change, to: str, *, user: Any = None, reason: str = "", system: bool = False,
               source: str = "api") -> Change:
    """Move ``change`` to state ``to`` and record who and why; :class:`TransitionRefused` when not allowed.

    ``system`` is for the approvals module (approved/rejected) and the scheduler; people reach
    those two states only by approving or rejecting.  Returns the change as stored afterwards.
    """
    to = str(to)
    if to not in S.values:
        raise TransitionRefused(change, to, f"{to!r} is not a state.")
    with change_logging(user=user, source=source), transaction.atomic():
        locked = Change.objects.select_for_update().get(pk=change.pk)
        if to not in allowed_from(locked.state):
            raise TransitionRefused(locked, to, "that transition does not exist.")
        if to in DECIDED_BY_APPROVALS and not system:
            raise TransitionRefused(locked, to, "a change is approved or rejected by its approvers "
                                                "(POST .../approve/ or .../reject/).")
        if locked.state == S.IN_PROGRESS and to == S.SUBMITTED and not system:
            raise TransitionRefused(locked, to, "only the apply sends a started change back (a stale plan).")
        notes = _check(locked, to, reason)
        now = timezone.now()
        previous = locked.state
        locked.state = to
        fields = ["state", "last_updated"]
        if to == S.IN_PROGRESS:
            locked.started_at = now
            fields.append("started_at")
        if to in ENDED and to != S.REJECTED:
            locked.finished_at = now
            fields.append("finished_at")
        locked.save(update_fields=fields)
        full_reason = "\n".join([reason.strip(), *notes]).strip()
        ChangeTransition.objects.create(change=locked, from_state=previous, to_state=to,
                                        user=user if getattr(user, "is_authenticated", False) else None,
                                        reason=full_reason, at=now)
        _after(locked, previous, to, user)
    return locked


def _check(change: Change, to: str, reason: str) -> list[str]:
    """Preconditions of entering ``to``; returns notes to record with the transition."""
    notes: list[str] = []
    if to == S.SUBMITTED:
        problems = _submit_problems(change)
        refusals, notes = _freeze_problems(change)
        problems += refusals
        if change.type == ChangeType.STANDARD and change.template_id is not None:
            from .approvals import template_problems

            problems += template_problems(change)
        if problems:
            raise TransitionRefused(change, to, " ".join(problems))
    elif to == S.SCHEDULED:
        refusals, notes = _freeze_problems(change)
        if refusals:
            raise TransitionRefused(change, to, " ".join(refusals))
        if change.window_end is not None and change.window_end <= timezone.now():
            raise TransitionRefused(change, to, "its window has already ended; plan a new window and re-submit.")
    elif to == S.IN_PROGRESS:
        now = timezone.now()
        if change.type != ChangeType.EMERGENCY and change.window_start is not None and (
                now < change.window_start or (change.window_end is not None and now >= change.window_end)):
            raise TransitionRefused(change, to, f"it is outside its window ({_when(change.window_start)} to "
                                                f"{_when(change.window_end)}).")
    elif to == S.CANCELLED and not reason.strip():
        raise TransitionRefused(change, to, "say why the change is cancelled (reason).")
    return notes


def _after(change: Change, previous: str, to: str, user: Any) -> None:
    """What follows a transition, once the transaction commits: assessment, pre-approval, notifications."""
    if to == S.SUBMITTED:
        from .models import ChangePlan, ChangePlanStatus

        # A new round of approval: the plans are approved again (by their fingerprints) with the change.
        ChangePlan.objects.filter(change=change, status=ChangePlanStatus.APPROVED).update(
            status=ChangePlanStatus.PENDING, approved_fingerprint="")
        _assess(change)
    if to in ENDED:
        from . import collisions

        collisions.record(change)  # an ended change collides with nothing: its rows go
    event = EVENTS.get(to)
    if event:
        from .notifications import notify_later

        notify_later(change.pk, event)
    if to == S.SUBMITTED and change.type == ChangeType.STANDARD:
        from .approvals import preapprove

        preapprove(change, user=user)


def _assess(change: Change) -> None:
    """Assess the change on submit: impact, risk, blast radius and its collisions (cmdb.changes.assessment)."""
    from . import assessment

    assessment.refresh(change)
