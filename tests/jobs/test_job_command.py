"""``cmdb job run NAME [--arg k=v]``: a job in the foreground, recorded like any other, with an exit status."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from cmdb.jobs.management.commands.job import parse_args
from cmdb.jobs.models import Job, JobStatus

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("job", *args, stdout=out)
    return out.getvalue()


def test_run_prints_log_and_result_and_records_the_job() -> None:
    text = run("run", "jobs.echo", "--arg", "message=hi there")
    assert "hi there" in text and '{"message": "hi there"}' in text and "completed" in text
    job = Job.objects.get(name="jobs.echo")
    assert job.status == JobStatus.COMPLETED and job.kwargs == {"message": "hi there"} and job.result


def test_a_failed_job_is_an_error_with_its_log() -> None:
    with pytest.raises(CommandError, match="failed"):
        run("run", "jobs.echo", "--arg", "fail=true")
    assert Job.objects.get(name="jobs.echo").status == JobStatus.FAILED


def test_purge_with_days_deletes_old_finished_jobs() -> None:
    old = Job.objects.create(name="jobs.echo", status=JobStatus.COMPLETED,
                             finished=timezone.now() - dt.timedelta(days=10))
    run("run", "jobs.purge", "--arg", "days=7")
    assert not Job.objects.filter(pk=old.pk).exists()


def test_bad_input_is_refused_before_anything_runs() -> None:
    with pytest.raises(CommandError, match="Unknown job"):
        run("run", "jobs.nosuch")
    with pytest.raises(CommandError, match="seconds"):
        run("run", "jobs.sleep", "--arg", "seconds=-1")
    with pytest.raises(CommandError, match="key=value"):
        run("run", "jobs.echo", "--arg", "nonsense")
    assert not Job.objects.exists()
    assert "jobs.purge" in run("list").split()


def test_values_are_json_when_they_are_json() -> None:
    assert parse_args(["days=7", "dry=true", "name=web01", "ports=[22, 80]"]) == {
        "days": 7, "dry": True, "name": "web01", "ports": [22, 80]}


@pytest.mark.django_db(transaction=True)
def test_exit_status_of_the_real_command(tmp_path: Path) -> None:
    """The installed ``cmdb`` entry point: 0 when the job completes, 1 when it fails."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the subprocess needs the test database on PostgreSQL")
    s = connection.settings_dict
    env = {**os.environ, "DATABASE_URL": f"postgresql://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/"
                                          f"{s['NAME']}", "CMDB_DATA_DIR": str(tmp_path)}
    cmdb = str(Path(sys.executable).parent / "cmdb")
    ok = subprocess.run([cmdb, "job", "run", "jobs.echo"], env=env, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([cmdb, "job", "run", "jobs.echo", "--arg", "fail=true"], env=env, capture_output=True,
                         text=True, check=False)
    assert bad.returncode == 1 and "failed" in bad.stderr and "Traceback" not in bad.stderr
