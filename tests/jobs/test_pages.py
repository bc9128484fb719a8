"""Jobs and schedules web pages: schedules are editable in the UI, validated and change-logged."""

from __future__ import annotations

from typing import Any

import pytest

from cmdb.core.models import ObjectChange
from cmdb.jobs.models import Job, Schedule

pytestmark = pytest.mark.django_db


def test_schedule_create_edit_and_validation(client: Any, superuser: Any) -> None:
    assert client.get("/jobs/schedules/").status_code == 302  # login first
    client.force_login(superuser)
    r = client.post("/jobs/schedules/add/", {"name": "echo", "job_name": "jobs.echo", "cron": "*/5 * * * *",
                                             "kwargs": '{"message": "ui"}', "enabled": "on"})
    assert r.status_code == 302
    s = Schedule.objects.get(name="echo")
    assert s.kwargs == {"message": "ui"} and s.enabled
    change = ObjectChange.objects.filter(changed_object_type__model="schedule", changed_object_id=s.pk).get()
    assert change.user_name == "admin"
    page = client.get("/jobs/schedules/").content.decode()
    assert "*/5 * * * *" in page and f"/jobs/schedules/{s.pk}/" in page
    bad = client.post(f"/jobs/schedules/{s.pk}/", {"name": "echo", "job_name": "jobs.echo", "cron": "77 * * * *",
                                                   "kwargs": "[1]"})
    assert bad.status_code == 200
    body = bad.content.decode()
    assert "Invalid cron expression" in body and "Give a JSON object." in body
    ok = client.post(f"/jobs/schedules/{s.pk}/", {"name": "echo", "job_name": "jobs.echo", "cron": "0 4 * * *",
                                                  "kwargs": "{}"})
    assert ok.status_code == 302
    s.refresh_from_db()
    assert s.cron == "0 4 * * *" and not s.enabled


def test_job_pages_show_log_and_error(client: Any, superuser: Any, make_user: Any) -> None:
    job = Job.objects.create(name="jobs.echo", status="failed", log=[{"time": "t", "level": "error",
                                                                       "message": "boom <x>"}], error="Traceback")
    client.force_login(superuser)
    assert f"/jobs/{job.pk}/" in client.get("/jobs/").content.decode()
    detail = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "ERROR boom &lt;x&gt;" in detail and "Traceback" in detail
    client.force_login(make_user("nobody"))
    assert client.get("/jobs/").status_code == 403
    assert client.get(f"/jobs/{job.pk}/").status_code == 404
    assert client.get("/jobs/schedules/add/").status_code == 403


def test_job_page_shows_attempt_and_heartbeat(client: Any, superuser: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    beat = timezone.localtime(timezone.now()).replace(microsecond=0)
    job = Job.objects.create(name="jobs.sleep", status="running", attempt=2, max_attempts=3, retry_delay=30,
                             heartbeat=beat, lease_expires=beat + dt.timedelta(seconds=60))
    client.force_login(superuser)
    detail = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "2 of 3 (retried when its worker is lost, after 30 s)" in detail
    # The UI's one date format (cmdb/ui/format.py): minutes, in the server's time zone.
    assert f"{beat:%Y-%m-%d %H:%M} (lease until {beat + dt.timedelta(seconds=60):%Y-%m-%d %H:%M})" in detail
    assert "attempt 2" in client.get("/jobs/").content.decode()
