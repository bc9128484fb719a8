"""A real ``cmdb worker`` killed with SIGKILL in the middle of a job, on the database queue and on RQ.

The worker is a separate OS process on the test's PostgreSQL database (and Redis for RQ); so
the tests need PostgreSQL, exactly like the scheduler's SIGKILL test (SQLite's test database
lives in the test process's memory).  What is killed is what a crash takes down: every process
of the worker's session — the worker, RQ's work horse (which RQ puts in a process group of its
own, so killing the worker's group alone would leave the job running) and RQ's scheduler.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from django.db import connection
from django.db.models.functions import Now

from cmdb.jobs.models import Job
from cmdb.jobs.reaper import WORKER_LOST
from cmdb.jobs.registry import Retry, job_enqueue

from .conftest import assert_task_failed_in_backend

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(os.environ.get("DATABASE_URL", "").split(":")[0] not in ("postgres", "postgresql"),
                       reason="a second process shares the test database only on PostgreSQL (SQLite tests run "
                              "in memory)"),
]

CMDB = str(Path(sys.executable).parent / "cmdb")
#: The lease of the workers started here: a killed worker's job is overdue two seconds later.
TTL = "2"
T = TypeVar("T")


class WorkerProcess:
    """``cmdb worker …`` in a session of its own, its output in a file for the failure message."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen([CMDB, "worker", *args], env=env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def session(self) -> list[int]:
        """The live (not zombie) processes of the worker's session: it, its work horses, RQ's scheduler."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            state, _ppid, _pgrp, session = stat.rsplit(")", 1)[1].split()[:4]
            if int(session) == self.proc.pid and state != "Z":
                pids.append(int(entry.name))
        return pids

    def kill(self) -> set[int]:
        """SIGKILL the whole worker, as a crash (OOM killer, lost machine, killed pod) would; returns the pids."""
        killed: set[int] = set()
        deadline = time.monotonic() + 30
        while (pids := self.session()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):  # gone meanwhile
                    os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            time.sleep(0.1)
        self.proc.wait(10)
        assert not self.session(), f"processes of the killed worker survived: {self.session()}"
        return killed

    def stop(self) -> None:
        """Ask for a warm shutdown; kill whatever is left after a while."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(20)
        self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _env(backend: str) -> dict[str, str]:
    db = connection.settings_dict
    return {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "CMDB_TASK_BACKEND": backend, "JOBS_HEARTBEAT_TTL": TTL}


def _wait_for(condition: Callable[[], T], what: str, *, worker: WorkerProcess | None = None,
              timeout: float = 120) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if worker is not None and worker.proc.poll() is not None:
            break
        time.sleep(0.2)
    detail = f"\n--- worker output ---\n{worker.output()}" if worker is not None else ""
    pytest.fail(f"gave up waiting for {what}{detail}")


def _killed_mid_job(record: Job, backend: str, tmp_path: Path) -> Job:
    """Start a worker, wait until it is inside the job, kill it; returns the job as the dead worker left it."""
    first = WorkerProcess(["--interval", "1", "--verbosity", "0"], _env(backend), tmp_path / "first-worker.log")
    try:
        _wait_for(lambda: Job.objects.filter(pk=record.pk, status="running", log__0__message__startswith="sleeping")
                  .exists(), "the first worker to start the job", worker=first)
    finally:
        killed = first.kill()
    job = Job.objects.get(pk=record.pk)
    assert job.status == "running" and job.finished is None  # killed in the middle: nobody finished it
    assert job.task_id and job.lease_expires is not None
    # The process that ran the job (RQ: the work horse, not the worker itself) was among the killed.
    assert int(job.worker.rsplit(":", 1)[1]) in killed
    if backend == "rq":
        assert int(job.worker.rsplit(":", 1)[1]) != first.proc.pid
    return job


def test_a_job_whose_worker_is_killed_fails_as_worker_lost(task_backend: str, tmp_path: Path) -> None:
    record = job_enqueue("jobs.sleep", kwargs={"seconds": 600})  # no retry policy
    dead = _killed_mid_job(record, task_backend, tmp_path)

    # Another worker's scheduler loop takes over the scheduler lease and reaps the job once its lease expired.
    survivor = WorkerProcess(["--interval", "1", "--verbosity", "0"], _env(task_backend), tmp_path / "survivor.log")
    try:
        job = _wait_for(lambda: Job.objects.filter(pk=record.pk, status="failed").first(),
                        "the surviving worker to reap the job", worker=survivor)
    finally:
        survivor.stop()

    assert job.error.startswith(f"{WORKER_LOST}: {dead.worker} stopped renewing the job's lease (last heard of ")
    assert "attempt 1 of 1" in job.error
    assert job.finished is not None and job.lease_expires is None and job.attempt == 1
    assert [line["message"] for line in job.log] == ["sleeping 600 s", job.error]
    assert_task_failed_in_backend(dead.task_id, task_backend)


def test_a_job_whose_worker_is_killed_is_retried_by_another_worker(task_backend: str, tmp_path: Path) -> None:
    record = job_enqueue("jobs.sleep", kwargs={"seconds": 10}, retry=Retry(attempts=2))
    dead = _killed_mid_job(record, task_backend, tmp_path)
    _wait_for(lambda: Job.objects.filter(pk=record.pk, lease_expires__lt=Now()).exists(), "the lease to expire")

    # A second real worker: reaps (the retry goes back to the same queue backend) and runs attempt 2.
    second = subprocess.run([CMDB, "worker", "--burst", "--verbosity", "0"], env=_env(task_backend),
                            capture_output=True, text=True, timeout=300, check=False)

    job = Job.objects.get(pk=record.pk)
    assert job.status == "completed", f"{job.status}: {job.error}\n{second.stdout}\n{second.stderr}"
    assert job.attempt == 2 and job.result == {"slept": 10}
    assert job.worker != dead.worker and job.task_id != dead.task_id
    messages = [line["message"] for line in job.log]
    assert messages[0] == "sleeping 10 s"
    assert messages[1].startswith(f"{WORKER_LOST}: {dead.worker} stopped renewing")
    assert messages[1].endswith("Retrying: attempt 2.")
    assert messages[2] == f"attempt 2 of 2 on {job.worker}" and messages[3] == "sleeping 10 s"
    assert_task_failed_in_backend(dead.task_id, task_backend)
