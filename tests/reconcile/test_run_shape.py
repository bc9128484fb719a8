"""One run record shape: a run's status, timings, worker and error are its job's, however it ran.

Foreground runs (``cmdb reconcile``, :func:`run_execute`) get a job row like queued ones; the API keeps
``status`` (now the job's) and lists runs in a fixed number of queries; options are typed per
reconciler in the OpenAPI schema and refused with a 400 naming each bad option; the plan page has an
"apply this plan" button (CSRF, permission, confirmation, a stale plan refused with the message shown).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cmdb.jobs.leases import lease_acquire
from cmdb.jobs.models import Job
from cmdb.jobs.retention import jobs_purge
from cmdb.jobs.worker import run_tasks
from cmdb.reconcile.examples.folder import FolderReconciler
from cmdb.reconcile.models import CIDrift, Plan, ReconcileRun
from cmdb.reconcile.services import lease_name, run_execute, run_request
from tests import factories as f
from tests.jobs.conftest import DB_TASKS
from tests.users.test_permissions import grant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def folder(tmp_path: Path, settings: Any) -> Path:
    settings.RECONCILERS_EXTRA = ["cmdb.reconcile.examples.folder.FolderReconciler"]
    settings.RECONCILE_FOLDER_ROOT = str(tmp_path / "files")
    return tmp_path / "files"


@pytest.fixture
def w() -> f.World:
    return f.world()


def _name(device: Any) -> str:
    return FolderReconciler.file_name(device.ci_id, device.name)


# --- the record -------------------------------------------------------------------------------------------------


def test_a_foreground_run_is_recorded_by_its_job(folder: Path, w: f.World) -> None:
    run = run_request(reconciler="folder", scope="tag:red", dry_run=False, enqueue=False)
    job = Job.objects.get(pk=run.job_id)
    assert (job.name, job.status, job.kwargs) == ("reconcile.run", "pending", {"run_id": run.pk})
    lines: list[str] = []
    done = run_execute(run, log=lambda message, level="info": lines.append(message))
    job.refresh_from_db()
    assert job.status == done.status == "completed"
    assert job.worker.startswith("foreground:") and done.worker == job.worker
    assert job.started and job.finished and job.duration is not None and done.finished == job.finished
    assert job.result["run_id"] == run.pk and job.result["plan_id"] == done.plan_id
    assert any("targets in scope" in line["message"] for line in job.log)  # the log is the job's
    assert lines and lines == [line["message"] for line in job.log]  # and was echoed as it went
    assert not hasattr(ReconcileRun, "RunStatus") and "status" not in {f.name for f in ReconcileRun._meta.fields}


def test_a_run_made_without_a_job_gets_one(folder: Path, w: f.World, superuser: Any) -> None:
    """Whoever records a run (a test, a script) gets the same shape: the run's save records its job."""
    run = ReconcileRun.objects.create(reconciler="folder", scope="tag:red", user=superuser)
    assert run.job_id and run.job.kwargs == {"run_id": run.pk} and run.job.user_id == run.user_id
    assert run.status == "pending"
    run.save()  # saving again does not make a second job
    assert Job.objects.filter(name="reconcile.run").count() == 1


def test_skipped_and_failed_runs_end_their_jobs_so(folder: Path, w: f.World) -> None:
    assert lease_acquire(lease_name("folder", "all"), "another-worker", ttl=30, now=timezone.now())
    skipped = run_execute(ReconcileRun.objects.create(reconciler="folder", dry_run=False))
    assert skipped.status == skipped.job.status == "skipped"
    assert skipped.error == "Another run of this reconciler and scope is active."
    # A target that fails fails the run, and the job: its error names the target (no traceback).
    d = w.devices
    folder.mkdir()
    (folder / _name(d["db01"])).mkdir()  # not a file: writing it fails
    failed = run_execute(run_request(reconciler="folder", scope="tag:blue", dry_run=False, enqueue=False))
    assert failed.status == failed.job.status == "failed" and failed.failed_count == 1
    assert failed.error.startswith("1 of ") and "db01" in failed.error and "Traceback" not in failed.error


def test_a_queued_run_and_its_list_read_the_job_in_one_query(folder: Path, w: f.World, api: Any,
                                                             settings: Any) -> None:
    settings.TASKS = DB_TASKS
    created = api.post("/api/reconcile/runs/", {"reconciler": "folder", "scope": "tag:red"}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["status"] == {"value": "pending", "label": "Pending"}
    run_tasks(holder="w", burst=True, fork=False)
    body = api.get(f"/api/reconcile/runs/{created.json()['id']}/").json()
    job = Job.objects.get(pk=body["job"]["id"])
    assert body["status"] == {"value": "completed", "label": "Completed"} and job.status == "completed"
    assert body["started"] and body["finished"] and body["duration"] == job.duration and body["error"] == ""
    assert body["worker"] == job.worker
    assert api.get("/api/reconcile/runs/?status=completed").json()["count"] == 1
    assert api.get("/api/reconcile/runs/?status=failed").json()["count"] == 0

    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get("/api/reconcile/runs/?limit=100").status_code == 200
        return len(queries.captured_queries)

    few = list_queries()
    for i in range(12):
        job = Job.objects.create(name="reconcile.run", status="failed" if i % 2 else "completed",
                                 error="x" if i % 2 else "", finished=timezone.now())
        ReconcileRun.objects.create(reconciler="folder", scope=f"tag:red{i}", job=job)
    assert list_queries() == few  # no query per row
    rows = api.get("/api/reconcile/runs/?limit=100").json()["results"]
    assert {r["status"]["value"] for r in rows} == {"completed", "failed"}
    assert api.get("/api/reconcile/runs/?brief=true").json()["results"][0]["status"]["value"]


def test_a_run_goes_with_its_purged_job_and_its_drift_and_plan_stay(folder: Path, w: f.World) -> None:
    run = run_execute(run_request(reconciler="folder", scope="tag:red", enqueue=False))
    old = timezone.now() - timezone.timedelta(days=60)
    Job.objects.filter(pk=run.job_id).update(finished=old, created=old)
    assert jobs_purge(days=30).jobs == 1
    assert not ReconcileRun.objects.filter(pk=run.pk).exists()
    assert Plan.objects.filter(pk=run.plan_id).exists()
    assert CIDrift.objects.filter(reconciler="folder").exists()
    assert not CIDrift.objects.filter(run__isnull=False).exists()


def test_metrics_count_runs_by_their_jobs_status(folder: Path, w: f.World) -> None:
    from cmdb.reconcile import metrics

    run_execute(run_request(reconciler="folder", scope="tag:red", enqueue=False))
    assert lease_acquire(lease_name("folder", "all"), "another-worker", ttl=30, now=timezone.now())
    run_execute(ReconcileRun.objects.create(reconciler="folder", dry_run=False))
    samples = {(m.name, tuple(sorted(m.labels.items()))): m.value
               for family in metrics.collect() for m in family.samples}
    assert samples[("cmdb_reconcile_runs_total", (("reconciler", "folder"), ("status", "completed")))] == 1
    assert samples[("cmdb_reconcile_runs_total", (("reconciler", "folder"), ("status", "skipped")))] == 1
    assert ("cmdb_reconcile_last_run_timestamp_seconds",
            (("mode", "dry_run"), ("reconciler", "folder"), ("scope", "tag:red"))) in samples


# --- options in the schema and on store -------------------------------------------------------------------------


def test_options_are_typed_per_reconciler_in_the_openapi_schema(folder: Path, api: Any) -> None:
    schema = api.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    folder_options = components["ReconcileOptionsFolder"]
    assert folder_options["type"] == "object" and folder_options["additionalProperties"] is False
    assert folder_options["properties"]["prune"]["type"] == "boolean"
    assert folder_options["properties"]["prune"]["default"] is True
    assert folder_options["properties"]["template"]["type"] == "string"
    ansible = components["ReconcileOptionsAnsible"]["properties"]
    playbook = ansible["playbook"]
    if "allOf" in playbook:  # drf-spectacular moves enums to components of their own
        playbook = components[playbook["allOf"][0]["$ref"].rsplit("/", 1)[1]]
    assert "baseline.yml" in playbook["enum"] and ansible["facts"]["type"] == "boolean"
    run = components["ReconcileRun"]["properties"]["options"]
    refs = {ref["$ref"] for ref in run["anyOf"]}
    assert {"#/components/schemas/ReconcileOptionsFolder", "#/components/schemas/ReconcileOptionsAnsible"} <= refs
    assert components["ReconcileRun"]["properties"]["status"]["readOnly"] is True


def test_bad_options_are_a_400_naming_each_option(folder: Path, w: f.World, api: Any) -> None:
    bad = api.post("/api/reconcile/runs/", {"reconciler": "folder", "scope": "tag:red",
                                            "options": {"prune": "maybe", "colour": 1}}, format="json")
    assert bad.status_code == 400
    messages = bad.json()["options"]
    assert any(m.startswith("prune: Give a bool") for m in messages), messages
    assert any(m.startswith("colour: Unknown option of folder") for m in messages), messages
    not_object = api.post("/api/reconcile/runs/", {"reconciler": "folder", "options": ["prune"]}, format="json")
    assert not_object.status_code == 400 and "JSON object" in not_object.json()["options"][0]
    assert not ReconcileRun.objects.exists() and not Job.objects.exists()


# --- the plan page and its "apply this plan" button -------------------------------------------------------------


def _planned(folder: Path) -> Plan:
    run = run_execute(run_request(reconciler="folder", scope="tag:red", enqueue=False))
    return Plan.objects.get(pk=run.plan_id)


def test_apply_this_plan_from_the_plan_page(folder: Path, w: f.World, superuser: Any, settings: Any) -> None:
    settings.TASKS = DB_TASKS
    plan = _planned(folder)
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)
    page = client.get(f"/reconcile/plans/{plan.pk}/")
    html = page.content.decode()
    assert page.status_code == 200 and "Apply this plan" in html and 'name="csrfmiddlewaretoken"' in html
    assert 'name="confirm"' in html and "required" in html
    url = f"/reconcile/plans/{plan.pk}/apply/"
    assert client.post(url, {"confirm": "yes"}).status_code == 403  # no CSRF token
    token = page.cookies["csrftoken"].value if "csrftoken" in page.cookies else client.cookies["csrftoken"].value
    assert client.get(url).status_code == 405
    unconfirmed = client.post(url, {"csrfmiddlewaretoken": token}, follow=True)
    assert "Tick the confirmation box" in unconfirmed.content.decode() and not ReconcileRun.objects.filter(
        applies_plan=True).exists()
    applied = client.post(url, {"csrfmiddlewaretoken": token, "confirm": "yes"})
    run = ReconcileRun.objects.get(applies_plan=True)
    assert applied.status_code == 302 and applied["Location"] == f"/reconcile/runs/{run.pk}/"
    assert run.plan_id == plan.pk and run.status == "pending" and run.user_id == superuser.pk
    run_tasks(holder="w", burst=True, fork=False)
    run = ReconcileRun.objects.select_related("job").get(pk=run.pk)
    assert run.status == "completed" and run.applied_count == 2 and len(list(folder.iterdir())) == 2
    assert "run " + str(run.pk) in client.get(f"/reconcile/plans/{plan.pk}/").content.decode()


def test_the_plan_page_refuses_a_stale_plan_with_the_message(folder: Path, w: f.World, superuser: Any,
                                                             settings: Any) -> None:
    settings.TASKS = DB_TASKS
    plan = _planned(folder)
    client = Client()
    client.force_login(superuser)
    # Known stale: a newer plan of the same scope differs (someone made a file by hand since).
    folder.mkdir(exist_ok=True)
    d = w.devices["web01"]
    (folder / _name(d)).write_text("by hand\n")
    newer = _planned(folder)
    assert newer.fingerprint != plan.fingerprint
    page = client.get(f"/reconcile/plans/{plan.pk}/").content.decode()
    assert f"plan {newer.pk}</a>, made since for the same scope, differs" in page and "Apply this plan" not in page
    refused = client.post(f"/reconcile/plans/{plan.pk}/apply/", {"confirm": "yes"}, follow=True)
    text = refused.content.decode()
    assert f"Plan {plan.pk} is stale" in text and "Re-plan" in text
    assert not ReconcileRun.objects.filter(applies_plan=True).exists()
    # Stale without a newer plan: the run plans afresh, refuses, and the plan page shows why.
    (folder / _name(d)).unlink()
    latest = _planned(folder)
    w.devices["web02"].status = "planned"
    from cmdb.core.context import change_logging

    with change_logging(source="test"):
        w.devices["web02"].save()
    client.post(f"/reconcile/plans/{latest.pk}/apply/", {"confirm": "yes"})
    run_tasks(holder="w", burst=True, fork=False)
    run = ReconcileRun.objects.select_related("job").get(applies_plan=True)
    assert run.status == "failed" and f"Plan {latest.pk} no longer matches" in run.error
    page = client.get(f"/reconcile/plans/{latest.pk}/").content.decode()
    assert f"Plan {latest.pk} no longer matches the real system and the CMDB: re-plan." in page


def test_applying_from_the_plan_page_needs_the_permissions(folder: Path, w: f.World, make_user: Any) -> None:
    plan = _planned(folder)
    viewer = make_user("planviewer")
    grant(types=["reconcile.reconcilerun", "reconcile.plan", "dcim.device"], actions=["view", "add"], users=[viewer])
    client = Client()
    client.force_login(viewer)
    page = client.get(f"/reconcile/plans/{plan.pk}/").content.decode()
    assert "Apply this plan" not in page and "needs the add and change permissions" in page
    assert client.post(f"/reconcile/plans/{plan.pk}/apply/", {"confirm": "yes"}).status_code == 403
    assert not ReconcileRun.objects.filter(applies_plan=True).exists()
    assert Client().get(f"/reconcile/plans/{plan.pk}/").status_code == 302  # login first
