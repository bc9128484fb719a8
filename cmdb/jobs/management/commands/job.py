"""``cmdb job run NAME [--arg key=value ...]`` and ``cmdb job list``: jobs from the shell.

``job run`` runs a registered job in this process, in the foreground, as a worker would (the
run is a :class:`cmdb.jobs.models.Job` record with its log and result, so it shows up on the
Jobs page), prints its log and result, and exits 1 when the job failed. Why in the foreground:
cron, systemd timers and an administrator fixing something at night want the outcome as an
exit status, not a queued job to watch.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError


def parse_args(pairs: list[str]) -> dict[str, Any]:
    """``["days=30", "prefix=10.0.0.0/24"]`` → ``{"days": 30, "prefix": "10.0.0.0/24"}``.

    A value is read as JSON when it is JSON (numbers, ``true``, lists), else kept as text."""
    kwargs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise CommandError(f"--arg {pair!r}: expected key=value.")
        try:
            kwargs[key] = json.loads(value)
        except ValueError:
            kwargs[key] = value
    return kwargs


class Command(BaseCommand):
    help = "Run a registered job in the foreground (exit status 1 if it fails), or list the jobs."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="run a job now, in this process")
        run.add_argument("name", help="the job's name, e.g. jobs.purge")
        run.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE",
                         help="a keyword argument of the job (repeatable; JSON values such as 30 or true)")
        sub.add_parser("list", help="the registered jobs")

    def handle(self, *args: Any, **opts: Any) -> None:
        from cmdb.jobs.registry import registered_jobs

        if opts["action"] == "list":
            for name in sorted(registered_jobs()):
                self.stdout.write(name)
            return
        self._run(opts["name"], parse_args(opts["arg"]))

    def _run(self, name: str, kwargs: dict[str, Any]) -> None:
        from cmdb.jobs.models import Job, JobStatus
        from cmdb.jobs.registry import job_kwargs_errors, job_run, kwargs_error_text, registered_jobs

        if name not in registered_jobs():
            raise CommandError(f"Unknown job {name!r}; `cmdb job list` shows the registered ones.")
        errors = job_kwargs_errors(name, kwargs)
        if errors:
            raise CommandError(f"Invalid arguments for {name}: {kwargs_error_text(errors)}")
        # Recorded like a queued job but never handed to the queue: this process runs it.
        record = Job.objects.create(name=name, kwargs=kwargs, max_attempts=1)
        status = job_run(record.pk, attempt=record.attempt, worker="cmdb job run")
        record.refresh_from_db()
        for line in record.log or []:
            self.stdout.write(f"{line.get('level', 'info'):<7} {line.get('message', '')}")
        if record.result is not None:
            self.stdout.write(json.dumps(record.result, default=str))
        if status != JobStatus.COMPLETED:
            raise CommandError(f"job {record.pk} ({name}) {status}")
        self.stdout.write(f"job {record.pk} ({name}) completed in {record.duration or 0:.2f} s")
