"""Running workers: the scheduler loop plus the task library's own worker.

Embedded default: django-tasks' database backend and its ``db_worker`` loop.
With ``REDIS_URL`` set: RQ workers (django-rq) on any number of machines.
Every worker also runs the scheduler loop; the lease elects one of them, which also
does the housekeeping: each tick it reaps jobs whose worker was lost
(:mod:`cmdb.jobs.reaper`), hourly it deletes old job records (:mod:`cmdb.jobs.retention`).
``--burst`` reaps once before it runs the queue, so a retried job runs in the same burst.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

from django.db import close_old_connections, connection
from django_tasks import task_backends

from cmdb.core.checkpoints import checkpoint_if_due

from .interrupts import stop_signals_handled
from .reaper import jobs_reap, reap_if_scheduler
from .retention import housekeeping
from .scheduler import scheduler_tick

logger = logging.getLogger(__name__)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def backend_kind() -> str:
    """``rq`` or ``database`` (or the class name of another configured backend)."""
    name = type(task_backends["default"]).__name__
    return {"RQBackend": "rq", "DatabaseBackend": "database"}.get(name, name)


def scheduler_loop(holder: str, interval: float, stop: threading.Event) -> None:
    """Tick every ``interval`` seconds until ``stop`` is set; the lease outlives three missed ticks."""
    try:
        while not stop.is_set():
            try:
                for record in scheduler_tick(holder=holder, ttl=interval * 3):
                    logger.info("schedule %s started job %s", record.schedule_id, record.pk)
                reaped = reap_if_scheduler(holder)
                if reaped:
                    logger.warning("reaper: %s", reaped.line())
                purged = housekeeping(holder)
                if purged is not None:
                    logger.info("housekeeping: %s", purged.line())
                checkpoint_if_due(holder)
            except Exception:
                logger.exception("scheduler tick failed; retrying next interval")
            finally:
                close_old_connections()
            stop.wait(interval)
    finally:
        connection.close()


def run_tasks(*, holder: str, burst: bool, queue: str = "default", fork: bool = True) -> None:
    """Process queued tasks with the configured backend's worker (until empty if ``burst``).

    RQ normally forks a work horse per job (memory and time limits stay per job); ``fork=False``
    runs jobs in this process, which tests use to share their database connection.  RQ's
    scheduler runs too (one per queue across workers, by a Redis lock): it moves deferred tasks,
    such as a retry with a delay, into the queue when they are due."""
    kind = backend_kind()
    if kind == "rq":
        import django_rq
        from django_tasks_rq import Job as RQJob
        from rq import SimpleWorker, Worker

        django_rq.get_worker(queue, job_class=RQJob, name=holder.replace(":", "-"),
                             worker_class=Worker if fork else SimpleWorker).work(
            burst=burst, with_scheduler=True
        )
    elif kind == "database":
        from django_tasks_db.management.commands.db_worker import Worker

        worker = Worker(queue_names=[queue], interval=1, batch=burst, backend_name="default", startup_delay=not burst,
                        max_tasks=None, worker_id=holder[:64], excluded_queue_names=[])
        # The worker's own SIGTERM/SIGINT handling (db_worker's command installs it, its Worker does not):
        # finish the current task and exit; a second signal exits at once.  Without it SIGTERM killed the
        # worker mid-job and SIGINT ended it with a KeyboardInterrupt traceback.
        with stop_signals_handled(worker.shutdown):
            worker.run()
    else:
        raise RuntimeError(f"cmdb worker cannot run tasks of backend {kind}; use that backend's own worker")


def run_worker(*, burst: bool = False, scheduler: bool = True, tasks: bool = True, interval: float = 15) -> None:
    holder = worker_id()
    stop = threading.Event()
    thread = None
    if scheduler and burst:
        scheduler_tick(holder=holder, ttl=interval * 3)
        reaped = jobs_reap()
        if reaped:
            logger.warning("reaper: %s", reaped.line())
        housekeeping(holder)
        checkpoint_if_due(holder)
    elif scheduler:
        thread = threading.Thread(target=scheduler_loop, args=(holder, interval, stop), daemon=True)
        thread.start()
    try:
        if tasks:
            run_tasks(holder=holder, burst=burst)
        elif thread is not None:
            with stop_signals_handled(lambda signum, frame: stop.set()):  # the loop ends within a tick
                while thread.is_alive():
                    thread.join(1)
    finally:
        stop.set()
