"""``cmdb worker``: run queued jobs and the cron scheduler."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from cmdb.jobs.worker import backend_kind, run_worker


class Command(BaseCommand):
    help = "Run jobs from the queue (database, or Redis when REDIS_URL is set) and evaluate schedules."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--burst", action="store_true", help="Evaluate schedules once, run what is queued, exit")
        parser.add_argument("--no-scheduler", action="store_true", help="Only run jobs, never start schedules")
        parser.add_argument("--scheduler-only", action="store_true", help="Only evaluate schedules")
        parser.add_argument("--interval", type=float, default=15, help="Seconds between scheduler ticks")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verbosity"] > 0:
            self.stdout.write(f"cmdb worker: {backend_kind()} backend")
        run_worker(burst=options["burst"], scheduler=not options["no_scheduler"],
                   tasks=not options["scheduler_only"], interval=options["interval"])
