"""The API (/api/changes/...) and the web pages: create and edit drafts, move them (400 listing the allowed
transitions), decide, attach plans and apply through a job, freezes, templates, groups, the OpenAPI schema."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from cmdb.changes.models import ApprovalGroup, Change, ChangePlan
from cmdb.jobs.models import Job
from cmdb.jobs.worker import run_tasks
from cmdb.reconcile.models import ReconcileRun
from cmdb.reconcile.services import run_execute
from tests import factories as f
from tests.jobs.conftest import DB_TASKS


def _iso(hours: float) -> str:
    return (timezone.now() + dt.timedelta(hours=hours)).isoformat()


@pytest.mark.django_db
def test_create_edit_move_and_decide(api: Any, superuser: Any, make_user: Any, client_for: Any) -> None:
    web = f.device("web01")
    created = api.post("/api/changes/changes/", {
        "title": "Upgrade nginx", "type": "normal", "cis": [web.ci_id], "window_start": _iso(-0.5),
        "window_end": _iso(1), "timezone": "Europe/Berlin", "rollback_plan": "apt install nginx=1.24"},
        format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["state"] == "draft" and body["requester"] == superuser.username
    assert [c["id"] for c in body["cis"]] == [web.ci_id]
    pk = body["id"]
    assert api.post("/api/changes/changes/", {"title": "x", "timezone": "Mars/Olympus"},
                    format="json").status_code == 400
    assert api.patch(f"/api/changes/changes/{pk}/", {"state": "approved"}, format="json").json()["state"] == "draft"
    assert api.patch(f"/api/changes/changes/{pk}/", {"window_end": _iso(-1)}, format="json").status_code == 400
    assert api.patch(f"/api/changes/changes/{pk}/", {"description": "nginx 1.26"},
                     format="json").json()["description"] == "nginx 1.26"

    refused = api.post(f"/api/changes/changes/{pk}/transition/", {"to": "completed"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["allowed"] == ["submitted", "cancelled"]
    assert "cannot go from draft to completed" in refused.json()["detail"]
    moved = api.post(f"/api/changes/changes/{pk}/transition/", {"to": "submitted", "reason": "ready"}, format="json")
    assert moved.status_code == 200 and moved.json()["state"] == "submitted"
    assert api.patch(f"/api/changes/changes/{pk}/", {"description": "later"}, format="json").status_code == 400

    ann = make_user("ann")
    cab = api.post("/api/changes/approval-groups/", {"name": "CAB", "members": [ann.pk], "quorum": 1},
                   format="json")
    assert cab.status_code == 201, cab.content
    assert api.post("/api/changes/approval-groups/", {"name": "Too few", "members": [ann.pk], "quorum": 2},
                    format="json").status_code == 400
    own = api.post(f"/api/changes/changes/{pk}/approve/", {}, format="json")
    assert own.status_code == 400 and "own change" in own.json()["detail"]
    ann_api = client_for(ann)
    assert ann_api.post(f"/api/changes/changes/{pk}/approve/", {"comment": "ok"}, format="json").status_code == 403
    # Ann sees the change once she may view changes.
    from tests.changes.helpers import grant

    grant(name="change viewers", types=["changes.change"], actions=["view"], users=[ann])
    decided = ann_api.post(f"/api/changes/changes/{pk}/approve/", {"comment": "ok"}, format="json")
    assert decided.status_code == 200, decided.content
    assert decided.json()["change"]["state"] == "approved" and decided.json()["approvals"]["approved"] is True
    assert api.get(f"/api/changes/approvals/?change_id={pk}").json()["count"] == 1
    history = api.get(f"/api/changes/changes/{pk}/history/").json()
    assert [(r["from_state"]["value"], r["to_state"]["value"], r["user"]) for r in history["results"]] == [
        ("draft", "submitted", "admin"), ("submitted", "approved", "ann")]
    assert api.get(f"/api/changes/transitions/?change_id={pk}").json()["count"] == 2
    assert api.get(f"/api/changes/changes/{pk}/approvals/").json()["groups"][0]["approved_by"] == ["ann"]
    assert api.get("/api/changes/changes/?state=approved").json()["count"] == 1


@pytest.mark.django_db(transaction=True)
def test_plans_and_apply_through_a_job(api: Any, folder: Path, settings: Any, superuser: Any,
                                       make_user: Any) -> None:
    settings.TASKS = DB_TASKS
    web = f.device("web01")
    run = run_execute(ReconcileRun.objects.create(reconciler="folder", scope=f"ci:{web.ci_id}", dry_run=True))
    rita = make_user("rita")
    change = Change.objects.create(title="Files", requester=rita, window_start=timezone.now() - dt.timedelta(hours=1),
                                   window_end=timezone.now() + dt.timedelta(hours=1))
    attached = api.post(f"/api/changes/changes/{change.pk}/plans/", {"plan": run.plan_id}, format="json")
    assert attached.status_code == 201 and attached.json()["results"][0]["status"]["value"] == "pending"
    assert api.post(f"/api/changes/changes/{change.pk}/plans/", {"plan": run.plan_id},
                    format="json").status_code == 400  # twice
    assert api.post(f"/api/changes/changes/{change.pk}/apply/").status_code == 400  # a draft
    api.post(f"/api/changes/changes/{change.pk}/transition/", {"to": "submitted"}, format="json")
    assert api.post(f"/api/changes/changes/{change.pk}/approve/", {"comment": "fine"}, format="json").json()[
        "change"]["state"] == "approved"
    queued = api.post(f"/api/changes/changes/{change.pk}/apply/")
    assert queued.status_code == 202
    run_tasks(holder="test-worker", burst=True, fork=False)
    job = Job.objects.get(pk=queued.json()["job"])
    assert job.status == "completed", job.error
    assert job.result == {"change_id": change.pk, "state": "completed"}
    plan_row = api.get(f"/api/changes/change-plans/?change_id={change.pk}").json()["results"][0]
    assert plan_row["status"]["value"] == "applied" and plan_row["remaining_drift"] == 0
    assert plan_row["outcomes"][0]["outcome"] == "ok"
    assert ChangePlan.objects.get(change=change).run.applies_plan

    page = Client()
    page.force_login(superuser)
    html = page.get(f"/changes/{change.pk}/").content.decode()
    assert "Plan #" in html and "Applied" in html and "History" in html
    assert "Files" in page.get("/changes/").content.decode()


@pytest.mark.django_db
def test_freezes_templates_and_the_schema(api: Any) -> None:
    site = f.site("Goerlitz")
    freeze = api.post("/api/changes/freezes/", {"name": "exam weeks", "start": _iso(24), "end": _iso(24 * 14),
                                                "sites": [site.pk], "reason": "exams"}, format="json")
    assert freeze.status_code == 201, freeze.content
    assert freeze.json()["blocks_types"] == ["normal"]
    assert api.post("/api/changes/freezes/", {"name": "bad", "start": _iso(2), "end": _iso(1)},
                    format="json").status_code == 400
    assert api.post("/api/changes/freezes/", {"name": "bad", "start": _iso(1), "end": _iso(2),
                                              "blocks_types": ["emergency"]}, format="json").status_code == 400
    template = api.post("/api/changes/templates/", {"name": "Reboot", "max_duration": "01:00:00",
                                                    "allowed_kinds": ["dcim.device"]}, format="json")
    assert template.status_code == 201, template.content
    schema = api.get("/api/schema/?format=json").json()
    for path in ("/api/changes/changes/", "/api/changes/freezes/", "/api/changes/gate/",
                 "/api/changes/changes/{id}/transition/", "/api/changes/changes/{id}/approve/",
                 "/api/changes/unauthorized/", "/api/changes/approval-groups/"):
        assert path in schema["paths"], path
    assert api.get("/api/changes/").status_code == 200


@pytest.mark.django_db
def test_web_pages_create_and_decide(superuser: Any, make_user: Any) -> None:
    rita = make_user("rita")
    ApprovalGroup.objects.create(name="CAB").members.set([superuser])
    f.device("web01")
    page = Client()
    page.force_login(rita)
    assert page.get("/changes/").status_code == 403  # no permission on changes
    from tests.changes.helpers import grant

    grant(name="changers", types=["changes.change", "core.configurationitem"], actions=["view", "add", "change"],
          users=[rita])
    made = page.post("/changes/new/", {"title": "Move web01", "type": "normal", "cis": "web01",
                                       "window_start": _iso(-1), "window_end": _iso(1)})
    change = Change.objects.get(title="Move web01")
    assert made.status_code == 302 and change.requester == rita and change.cis.count() == 1
    page.post(f"/changes/{change.pk}/transition/", {"to": "submitted", "reason": "please"})
    change.refresh_from_db()
    assert change.state == "submitted"
    admin = Client()
    admin.force_login(superuser)
    assert "Approve" in admin.get(f"/changes/{change.pk}/").content.decode()
    admin.post(f"/changes/{change.pk}/decide/", {"decision": "approve", "comment": "ok"})
    change.refresh_from_db()
    assert change.state == "approved"
