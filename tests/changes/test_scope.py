"""Tenant-scoped users see and approve only their part: changes, approver groups, approvals, plans, unauthorized
changes and the gate's answers of another tenant stay hidden, in the API and on the pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from cmdb.changes.models import ApprovalGroup, ChangeState, UnauthorizedChange
from cmdb.changes.transitions import transition
from cmdb.users.services import token_create
from tests import factories as f

from .helpers import grant, make_change

pytestmark = pytest.mark.django_db
S = ChangeState


def _api(user: Any) -> APIClient:
    _token, key = token_create(user=user, write_enabled=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def two(make_user: Any) -> Any:
    a, b = f.tenant("Faculty A"), f.tenant("Faculty B")
    alice, bob, requester = make_user("alice"), make_user("bob"), make_user("rita")
    grant(name="a", types=["*"], actions=["view", "add", "change", "delete"], users=[alice], tenants=[a])
    grant(name="b", types=["*"], actions=["view", "add", "change", "delete"], users=[bob], tenants=[b])
    srv_a, srv_b = f.device("srv-a", tenant=a), f.device("srv-b", tenant=b)
    ga = ApprovalGroup.objects.create(name="A board", tenant=a)
    gb = ApprovalGroup.objects.create(name="B board secret", tenant=b)
    everyone = ApprovalGroup.objects.create(name="campus CAB", quorum=1)
    ga.members.set([alice])
    gb.members.set([bob])
    everyone.members.set([alice, bob])
    ca = make_change(srv_a, requester=requester, tenant=a, title="change of A")
    cb = make_change(srv_b, requester=requester, tenant=b, title="change of B secret")
    for change in (ca, cb):
        transition(change, S.SUBMITTED, user=requester)
    return type("Two", (), dict(a=a, b=b, alice=alice, bob=bob, srv_a=srv_a, srv_b=srv_b, ca=ca, cb=cb, ga=ga,
                                gb=gb))


def test_each_tenant_sees_and_approves_only_its_changes(two: Any) -> None:
    alice = _api(two.alice)
    listed = alice.get("/api/changes/changes/").json()
    assert [r["title"] for r in listed["results"]] == ["change of A"]
    assert alice.get(f"/api/changes/changes/{two.cb.pk}/").status_code == 404
    assert alice.post(f"/api/changes/changes/{two.cb.pk}/approve/", {"comment": "x"}, format="json").status_code \
        == 404
    assert alice.post(f"/api/changes/changes/{two.cb.pk}/transition/", {"to": "cancelled", "reason": "x"},
                      format="json").status_code == 404
    groups = alice.get("/api/changes/approval-groups/").json()
    assert [g["name"] for g in groups["results"]] == ["A board"]  # the campus CAB has no tenant: admins only

    # Alice approves A's change for both groups she belongs to (A board, campus CAB): approved.
    answer = alice.post(f"/api/changes/changes/{two.ca.pk}/approve/", {"comment": "fine"}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["change"]["state"] == "approved"
    two.cb.refresh_from_db()
    assert two.cb.state == S.SUBMITTED
    # Bob's approvals list does not show Alice's decision, nor hers his.
    bob = _api(two.bob)
    assert bob.get("/api/changes/approvals/").json()["count"] == 0
    assert alice.get("/api/changes/approvals/").json()["count"] == 2
    assert "secret" not in alice.get("/api/changes/transitions/").content.decode()
    # She cannot create a change for tenant B, nor put B's CI on her change.
    made = alice.post("/api/changes/changes/", {"title": "sneaky", "tenant": two.b.pk}, format="json")
    assert made.status_code in (400, 403)
    made = alice.post("/api/changes/changes/", {"title": "sneaky", "cis": [two.srv_b.ci_id]}, format="json")
    assert made.status_code == 400
    made = alice.post("/api/changes/changes/", {"title": "mine", "cis": [two.srv_a.ci_id]}, format="json")
    assert made.status_code == 201 and made.json()["tenant"]["id"] == two.a.pk  # her tenant by default


def test_unauthorized_changes_gate_and_pages_are_scoped(two: Any) -> None:
    now = timezone.now()
    for ci in (two.srv_a.ci_id, two.srv_b.ci_id):
        UnauthorizedChange.objects.create(ci_id=ci, source="reconcile", source_ref=f"reconcile:folder {ci}",
                                          detected_at=now)
    alice = _api(two.alice)
    rows = alice.get("/api/changes/unauthorized/").json()["results"]
    assert [r["ci"]["id"] for r in rows] == [two.srv_a.ci_id]
    answer = alice.post("/api/changes/gate/", {"ci_ids": [two.srv_b.ci_id]}, format="json").json()
    assert answer["allow"] is False and answer["reasons"] == [f"CI {two.srv_b.ci_id} does not exist."]
    page = Client()
    page.force_login(two.alice)
    html = page.get("/changes/").content.decode()
    assert "change of A" in html and "secret" not in html
    assert page.get(f"/changes/{two.cb.pk}/").status_code == 404
    assert page.post(f"/changes/{two.cb.pk}/decide/", {"decision": "approve"}).status_code == 404
