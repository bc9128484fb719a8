"""Jobs and schedules through the REST API: validation, change log, permissions."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from cmdb.core.models import ObjectChange
from cmdb.jobs.models import Job, Schedule

from .conftest import DB_TASKS

pytestmark = pytest.mark.django_db


def test_schedules_are_data_edited_through_the_api(api: Any) -> None:
    r = api.post("/api/jobs/schedules/", {"name": "echo", "job_name": "jobs.echo", "cron": "*/10 * * * *",
                                          "kwargs": {"message": "hi"}}, format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["next_run"] and body["last_tick"] is None and body["enabled"] is True
    assert ObjectChange.objects.filter(changed_object_type__model="schedule", changed_object_id=body["id"]).exists()
    r = api.patch(f"/api/jobs/schedules/{body['id']}/", {"cron": "0 3 * * 1-5", "enabled": False}, format="json")
    assert r.status_code == 200 and r.json()["cron"] == "0 3 * * 1-5" and r.json()["next_run"] is None
    bad = api.post("/api/jobs/schedules/", {"name": "bad", "job_name": "nope", "cron": "every day"}, format="json")
    assert bad.status_code == 400 and {"job_name"} <= set(bad.json())
    bad = api.post("/api/jobs/schedules/", {"name": "bad", "job_name": "jobs.echo", "cron": "99 * * * *"},
                   format="json")
    assert bad.status_code == 400 and "cron" in bad.json()
    assert api.get("/api/jobs/schedules/?enabled=false").json()["count"] == 1
    assert api.delete(f"/api/jobs/schedules/{body['id']}/").status_code == 204
    assert not Schedule.objects.exists()


def test_enqueue_and_list_jobs(api: Any, settings: Any, django_capture_on_commit_callbacks: Any) -> None:
    settings.TASKS = DB_TASKS
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post("/api/jobs/jobs/", {"name": "jobs.echo", "kwargs": {"message": "api"}}, format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["status"]["value"] == "pending" and body["user"] == "admin"
    assert Job.objects.get(pk=body["id"]).task_id
    assert api.get("/api/jobs/jobs/?name=jobs.echo").json()["count"] == 1
    assert api.post("/api/jobs/jobs/", {"name": "nope"}, format="json").status_code == 400
    assert api.post("/api/jobs/jobs/", {"name": "jobs.echo", "kwargs": [1]}, format="json").status_code == 400
    assert api.delete(f"/api/jobs/jobs/{body['id']}/").status_code == 405


def test_jobs_need_permissions(make_user: Any, client_for: Any) -> None:
    assert APIClient().get("/api/jobs/jobs/").status_code in (401, 403)
    user = make_user("bob")
    client = client_for(user)
    assert client.get("/api/jobs/schedules/").status_code == 403
    assert client.post("/api/jobs/jobs/", {"name": "jobs.echo"}, format="json").status_code == 403


def test_sleep_job_and_its_lease_through_the_api(api: Any, settings: Any,
                                                django_capture_on_commit_callbacks: Any) -> None:
    """Attempt and heartbeat are shown and read-only; the sleep job's duration is validated."""
    from django.utils import timezone

    settings.TASKS = DB_TASKS
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post("/api/jobs/jobs/", {"name": "jobs.sleep", "kwargs": {"seconds": 2.5}, "attempt": 7,
                                         "max_attempts": 9, "heartbeat": "2020-01-01T00:00:00Z"}, format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert (body["attempt"], body["max_attempts"], body["heartbeat"], body["lease_expires"]) == (1, 1, None, None)
    beat = timezone.now()
    Job.objects.filter(pk=body["id"]).update(status="running", heartbeat=beat, lease_expires=beat)
    detail = api.get(f"/api/jobs/jobs/{body['id']}/").json()
    assert detail["heartbeat"] and detail["lease_expires"] and detail["status"]["value"] == "running"
    assert api.get("/api/jobs/jobs/?attempt=1").json()["count"] == 1
    assert api.get("/api/jobs/jobs/?attempt=2").json()["count"] == 0
    for kwargs, field in (({"seconds": -1}, "seconds"), ({"seconds": 3601}, "seconds"), ({"seconds": "10"}, "seconds"),
                          ({"seconds": True}, "seconds"), ({"minutes": 1}, "minutes")):
        bad = api.post("/api/jobs/jobs/", {"name": "jobs.sleep", "kwargs": kwargs}, format="json")
        assert bad.status_code == 400, kwargs
        assert f"{field}:" in str(bad.json()["kwargs"])
    assert Job.objects.count() == 1
