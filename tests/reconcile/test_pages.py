"""Reconcile web pages: the run list, a run with its diff, starting a run, the CI drift panel."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory
from django.utils import timezone

from cmdb.jobs.models import Job
from cmdb.reconcile.models import CIDrift, Plan, PlanItem, ReconcileRun
from cmdb.reconcile.views import ci_drift_panel
from tests import factories as f

pytestmark = pytest.mark.django_db


def _run() -> ReconcileRun:
    w = f.world()
    plan = Plan.objects.create(reconciler="ansible", fingerprint="f" * 64, targets=1)
    job = Job.objects.create(name="reconcile.run", status="completed")
    run = ReconcileRun.objects.create(reconciler="ansible", job=job, drift_count=1, targets=1, plan=plan,
                                      summary={"web01": {"status": "ok", "changes": 1, "message": ""}})
    PlanItem.objects.create(plan=plan, index=0, ci_id=w.devices["web01"].ci_id, target="web01",
                                   operation="update", resource="Write the message of the day",
                                   diff="--- before: /etc/motd\n+++ after: /etc/motd\n@@ -1 +1 @@\n"
                                        "-hacked\n+web01 <b>\n")
    CIDrift.objects.create(reconciler="ansible", ci_id=w.devices["web01"].ci_id, run=run, status="drifted",
                           drift_items=1, checked=timezone.now(),
                           items=[{"operation": "update", "resource": "Write the message of the day", "diff": "-x"}])
    return run


def test_pages_need_login(client: Any) -> None:
    assert client.get("/reconcile/runs/").status_code == 302


def test_run_list_and_detail_show_the_diff(client: Any, superuser: Any) -> None:
    run = _run()
    client.force_login(superuser)
    page = client.get("/reconcile/runs/").content.decode()
    assert f'href="/reconcile/runs/{run.pk}/"' in page and "Start" in page
    detail = client.get(f"/reconcile/runs/{run.pk}/").content.decode()
    assert '<span class="del">-hacked</span>' in detail
    assert '<span class="add">+web01 &lt;b&gt;</span>' in detail  # escaped
    assert "Write the message of the day" in detail
    assert client.get("/reconcile/runs/999999/").status_code == 404


def test_start_a_dry_run_from_the_page(client: Any, superuser: Any, make_user: Any, settings: Any,
                                       django_capture_on_commit_callbacks: Any) -> None:
    from tests.jobs.conftest import DB_TASKS

    settings.TASKS = DB_TASKS
    f.world()
    client.force_login(superuser)
    form = client.get("/reconcile/runs/").content.decode()
    assert 'name="option-ansible-playbook"' in form and "<option>baseline.yml</option>" in form
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post("/reconcile/runs/start/", {"reconciler": "ansible", "scope": "site:zittau", "mode": "dry_run",
                                                   "option-ansible-facts": "false", "option-ansible-tags": ""})
    run = ReconcileRun.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/reconcile/runs/{run.pk}/"
    assert run.dry_run and run.scope == "site:zittau" and run.job.task_id and run.options == {"facts": False}
    # A scope that matches nothing is refused with the reason, and no run is stored.
    r = client.post("/reconcile/runs/start/", {"reconciler": "ansible", "scope": "tag:nothing"}, follow=True)
    assert "scope: Scope &#x27;tag:nothing&#x27; matches no CI" in r.content.decode()
    assert ReconcileRun.objects.count() == 1
    viewer = make_user("viewer")
    client.force_login(viewer)
    assert client.post("/reconcile/runs/start/", {"reconciler": "ansible", "mode": "apply"}).status_code == 403
    assert client.get("/reconcile/runs/").status_code == 403


def test_ci_drift_panel(superuser: Any) -> None:
    run = _run()
    ci_id = run.actions.get().ci_id
    request = RequestFactory().get("/")
    request.user = superuser
    html = ci_drift_panel(request, ci_id)
    assert "drifted" in html and "Write the message of the day" in html and f"/reconcile/runs/{run.pk}/" in html
