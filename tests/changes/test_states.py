"""The state machine: every allowed transition works and is change-logged with who and why; every other
transition from every state is refused naming the allowed ones; preconditions are enforced."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType

from cmdb.changes.approvals import decide
from cmdb.changes.models import ApprovalGroup, Change, ChangeState, ChangeTransition, ChangeType
from cmdb.changes.transitions import ALLOWED, TransitionRefused, transition
from cmdb.core.models import ObjectChange
from tests import factories as f

from .helpers import make_change

pytestmark = pytest.mark.django_db
S = ChangeState


@pytest.fixture
def people(make_user: Any) -> Any:
    rita, carl = make_user("rita"), make_user("carl")
    cab = ApprovalGroup.objects.create(name="CAB", quorum=1)
    cab.members.set([carl])
    return rita, carl, make_user("admin2", superuser=True)


def _force(change: Change, state: str) -> Change:
    """Put a change into ``state`` directly (only to test what is allowed *from* there)."""
    Change.objects.filter(pk=change.pk).update(state=state)
    change.refresh_from_db()
    return change


def test_every_illegal_transition_is_refused_with_the_allowed_ones(people: Any) -> None:
    requester, _carl, admin = people
    web = f.device("web01")
    for state in S.values:
        for target in S.values:
            if target in ALLOWED[state]:
                continue
            change = _force(make_change(web, requester=requester), state)
            with pytest.raises(TransitionRefused) as refused:
                transition(change, target, user=admin, reason="trying")
            allowed = ", ".join(ALLOWED[state]) or "none (the change is closed)"
            assert f"cannot go from {state} to {target}" in str(refused.value)
            assert f"Allowed from {state}: {allowed}." in str(refused.value)
            assert list(refused.value.allowed) == list(ALLOWED[state])
            assert Change.objects.get(pk=change.pk).state == state  # nothing moved
    assert not ChangeTransition.objects.exists()


def test_the_happy_path_is_logged_with_who_and_why(people: Any) -> None:
    requester, carl, admin = people
    web = f.device("web01")
    change = make_change(web, requester=requester, rollback_plan="restore the snapshot")
    transition(change, S.SUBMITTED, user=requester, reason="ready for CAB")
    decide(change, carl, "approve", "fine by me")
    change.refresh_from_db()
    assert change.state == S.APPROVED
    transition(change, S.SCHEDULED, user=admin, reason="in the Tuesday window")
    transition(change, S.IN_PROGRESS, user=admin, reason="starting")
    done = transition(change, S.COMPLETED, user=admin, reason="all good")
    assert done.state == S.COMPLETED and done.started_at and done.finished_at
    rows = list(ChangeTransition.objects.filter(change=change).order_by("at", "pk").values_list(
        "from_state", "to_state", "user__username", "reason"))
    assert [(a, b, u) for a, b, u, _ in rows] == [
        ("draft", "submitted", "rita"), ("submitted", "approved", "carl"), ("approved", "scheduled", "admin2"),
        ("scheduled", "in_progress", "admin2"), ("in_progress", "completed", "admin2")]
    assert rows[0][3] == "ready for CAB" and rows[1][3] == "approved by carl: fine by me"
    # The core change log holds each state change (before/after) with its user, and each reason.
    ct = ContentType.objects.get_for_model(Change)
    logged = ObjectChange.objects.filter(changed_object_type=ct, changed_object_id=change.pk, action="update")
    states = [(c.prechange_data["state"], c.postchange_data["state"], c.user_name) for c in logged.order_by("id")]
    assert ("draft", "submitted", "rita") in states and ("in_progress", "completed", "admin2") in states
    reasons = ObjectChange.objects.filter(changed_object_type=ContentType.objects.get_for_model(ChangeTransition))
    assert {r.postchange_data["reason"] for r in reasons} >= {"ready for CAB", "all good"}


def test_approved_and_rejected_only_through_approvals(people: Any) -> None:
    requester, _carl, admin = people
    change = make_change(f.device("web01"), requester=requester)
    transition(change, S.SUBMITTED, user=requester)
    for target in (S.APPROVED, S.REJECTED):
        with pytest.raises(TransitionRefused, match="approved or rejected by its approvers"):
            transition(change, target, user=admin)


def test_preconditions(people: Any) -> None:
    requester, _carl, admin = people
    web = f.device("web01")
    bare = make_change(requester=requester, window_start=None, window_end=None)
    with pytest.raises(TransitionRefused) as refused:
        transition(bare, S.SUBMITTED, user=requester)
    assert "needs a planned window" in str(refused.value) and "names no affected CI" in str(refused.value)
    emergency = make_change(web, requester=requester, type=ChangeType.EMERGENCY)
    with pytest.raises(TransitionRefused, match="emergency change needs an emergency_reason"):
        transition(emergency, S.SUBMITTED, user=requester)
    standard = make_change(web, requester=requester, type=ChangeType.STANDARD)
    with pytest.raises(TransitionRefused, match="made from a template"):
        transition(standard, S.SUBMITTED, user=requester)
    # Cancelling needs a reason; starting outside the window is refused.
    change = make_change(web, requester=requester)
    with pytest.raises(TransitionRefused, match="say why"):
        transition(change, S.CANCELLED, user=admin)
    assert transition(change, S.CANCELLED, user=admin, reason="not needed").state == S.CANCELLED
    later = _force(make_change(web, requester=requester, start_in=5), S.SCHEDULED)
    with pytest.raises(TransitionRefused, match="outside its window"):
        transition(later, S.IN_PROGRESS, user=admin)
    # Only the apply sends a started change back to submitted.
    started = _force(make_change(web, requester=requester), S.IN_PROGRESS)
    with pytest.raises(TransitionRefused, match="only the apply"):
        transition(started, S.SUBMITTED, user=admin)


def test_cancel_from_every_open_state(people: Any) -> None:
    requester, _carl, admin = people
    web = f.device("web01")
    for state in (S.DRAFT, S.SUBMITTED, S.APPROVED, S.SCHEDULED, S.IN_PROGRESS):
        change = _force(make_change(web, requester=requester), state)
        assert transition(change, S.CANCELLED, user=admin, reason="called off").state == S.CANCELLED


def test_metrics_count_states_and_the_success_ratio(people: Any) -> None:
    from cmdb.changes.metrics import collect

    requester, _carl, admin = people
    web = f.device("web01")
    for state in (S.COMPLETED, S.COMPLETED, S.COMPLETED, S.FAILED):
        change = _force(make_change(web, requester=requester), S.IN_PROGRESS)
        transition(change, state, user=admin, reason="done")
    make_change(web, requester=requester)
    families = {m.name: m for m in collect()}
    by_state = {(s.labels["state"], s.labels["type"]): s.value for s in families["cmdb_changes"].samples}
    assert by_state[("completed", "normal")] == 3 and by_state[("failed", "normal")] == 1
    assert by_state[("draft", "normal")] == 1 and by_state[("draft", "emergency")] == 0
    assert families["cmdb_changes_success_ratio"].samples[0].value == 0.75
    finished = {s.labels["outcome"]: s.value for s in families["cmdb_changes_finished"].samples}
    assert finished == {"completed": 3, "failed": 1, "rolled_back": 0}
    assert families["cmdb_change_collisions"].samples[0].value == 0
