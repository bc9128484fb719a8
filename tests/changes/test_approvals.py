"""Approvals: groups per tenant and per service, quorum, a rejection rejects, nobody approves their own change,
a new round after re-submission, and standard changes pre-approved within their template's limits."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from cmdb.changes.approvals import ApprovalRefused, applicable_groups, decide, status
from cmdb.changes.models import ApprovalGroup, ChangeState, ChangeTemplate, ChangeTransition, ChangeType
from cmdb.changes.transitions import TransitionRefused, transition
from tests import factories as f
from tests.services.graphs import G

from .helpers import make_change

pytestmark = pytest.mark.django_db
S = ChangeState


def _group(name: str, members: list[Any], quorum: int = 1, tenant: Any = None, services: list[Any] = ()) -> Any:
    group = ApprovalGroup.objects.create(name=name, quorum=quorum, tenant=tenant)
    group.members.set(members)
    group.services.set(services)
    return group


def test_groups_by_tenant_and_service_with_quorum(make_user: Any) -> None:
    rita, ann, ben, cid, dora = (make_user(n) for n in ("rita", "ann", "ben", "cid", "dora"))
    physics, chemistry = f.tenant("Physics"), f.tenant("Chemistry")
    g = G()
    g.ci("web", tenant=physics)
    portal = g.service("portal")
    g.edge("portal", "depends_on", "web")
    g.ci("lonely", tenant=physics)
    tenant_cab = _group("physics CAB", [ann, ben], quorum=2, tenant=physics)
    portal_owners = _group("portal owners", [cid], services=[portal])
    _group("chemistry CAB", [dora], tenant=chemistry)

    change = make_change(g["web"], requester=rita, tenant=physics)
    assert [x.name for x in applicable_groups(change)] == ["physics CAB", "portal owners"]
    other = make_change(g["lonely"], requester=rita, tenant=physics)
    assert [x.name for x in applicable_groups(other)] == ["physics CAB"]  # touches no portal CI

    transition(change, S.SUBMITTED, user=rita)
    with pytest.raises(ApprovalRefused, match="not a member of an approver group"):
        decide(change, dora, "approve")
    with pytest.raises(ApprovalRefused, match="their own change"):
        decide(change, rita, "approve")
    decide(change, ann, "approve", "ok")
    decide(change, cid, "approve", "portal can take it")
    change.refresh_from_db()
    assert change.state == S.SUBMITTED  # physics CAB has one of two
    shown = {row["name"]: row for row in status(change)["groups"]}
    assert shown["physics CAB"]["approved_by"] == ["ann"] and not shown["physics CAB"]["satisfied"]
    assert shown["portal owners"]["satisfied"]
    decide(change, ben, "approve")
    change.refresh_from_db()
    assert change.state == S.APPROVED
    reason = ChangeTransition.objects.get(change=change, to_state=S.APPROVED).reason
    assert reason.startswith("approved by ann, ben, cid")
    assert tenant_cab.quorum == 2 and portal_owners.quorum == 1
    with pytest.raises(ApprovalRefused, match="only submitted changes"):
        decide(change, ann, "approve")


def test_one_rejection_rejects_and_needs_a_comment(make_user: Any) -> None:
    rita, ann, ben = make_user("rita"), make_user("ann"), make_user("ben")
    _group("CAB", [ann, ben], quorum=2)
    change = make_change(f.device("web01"), requester=rita)
    transition(change, S.SUBMITTED, user=rita)
    decide(change, ann, "approve")
    with pytest.raises(ApprovalRefused, match="needs a comment"):
        decide(change, ben, "reject", "  ")
    decide(change, ben, "reject", "not during enrolment")
    change.refresh_from_db()
    assert change.state == S.REJECTED
    assert ChangeTransition.objects.get(change=change, to_state=S.REJECTED).reason == \
        "rejected by ben: not during enrolment"


def test_resubmission_starts_a_new_round(make_user: Any) -> None:
    rita, ann = make_user("rita"), make_user("ann")
    admin = make_user("root", superuser=True)
    _group("CAB", [ann])
    change = make_change(f.device("web01"), requester=rita)
    transition(change, S.SUBMITTED, user=rita)
    decide(change, ann, "approve")
    change.refresh_from_db()
    assert change.state == S.APPROVED
    transition(change, S.SUBMITTED, user=admin, reason="scope grew")
    change.refresh_from_db()
    assert status(change)["approved"] is False  # the first round's approval no longer counts
    decide(change, ann, "approve", "again")
    change.refresh_from_db()
    assert change.state == S.APPROVED


def test_without_groups_one_user_who_may_change_it_approves(make_user: Any) -> None:
    rita, nobody, admin = make_user("rita"), make_user("nobody"), make_user("root", superuser=True)
    change = make_change(f.device("web01"), requester=rita)
    transition(change, S.SUBMITTED, user=rita)
    with pytest.raises(ApprovalRefused, match="needs a user who may change it"):
        decide(change, nobody, "approve")
    decide(change, admin, "approve")
    change.refresh_from_db()
    assert change.state == S.APPROVED


def test_standard_changes_are_preapproved_within_their_template(make_user: Any) -> None:
    rita = make_user("rita")
    _group("CAB", [make_user("ann")])  # would be needed for a normal change
    web, db = f.device("web01"), f.device("db01")
    template = ChangeTemplate.objects.create(name="Reboot a web server", allowed_kinds=["dcim.device"],
                                             max_duration=dt.timedelta(hours=1))
    template.allowed_cis.set([web.ci_id])
    ok = make_change(web, requester=rita, type=ChangeType.STANDARD, template=template, hours=0.5)
    transition(ok, S.SUBMITTED, user=rita)
    ok.refresh_from_db()
    assert ok.state == S.APPROVED
    assert ChangeTransition.objects.get(change=ok, to_state=S.APPROVED).reason == \
        "standard change pre-approved by template 'Reboot a web server'"

    too_long = make_change(web, requester=rita, type=ChangeType.STANDARD, template=template, hours=3)
    with pytest.raises(TransitionRefused, match="longer than template"):
        transition(too_long, S.SUBMITTED, user=rita)
    other_ci = make_change(db, requester=rita, type=ChangeType.STANDARD, template=template, hours=0.5)
    with pytest.raises(TransitionRefused, match="does not cover CI db01"):
        transition(other_ci, S.SUBMITTED, user=rita)
    vm_template = ChangeTemplate.objects.create(name="VM resize", allowed_kinds=["virtualization.virtualmachine"],
                                                max_duration=dt.timedelta(hours=1))
    wrong_kind = make_change(web, requester=rita, type=ChangeType.STANDARD, template=vm_template, hours=0.5)
    with pytest.raises(TransitionRefused, match=r"allows CI kinds virtualization.virtualmachine, not web01"):
        transition(wrong_kind, S.SUBMITTED, user=rita)
