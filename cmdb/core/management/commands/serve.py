"""Serve the web UI and API with gunicorn (the production server)."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand


def default_workers() -> int:
    """Two sync workers per CPU: a request spends much of its time waiting on PostgreSQL, so one
    worker per CPU leaves the CPUs idle meanwhile (discovery re-ingest on 2 CPUs: 153 reports/s with
    2 workers, 208 with 4)."""
    return max(2, 2 * (os.cpu_count() or 1))


class Command(BaseCommand):
    help = "Serve the CMDB (UI and API) with gunicorn, the production WSGI server."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("CMDB_HOST", "127.0.0.1"), help="address to bind")
        parser.add_argument("--port", type=int, default=int(os.environ.get("CMDB_PORT", 8000)), help="TCP port")
        parser.add_argument("--workers", type=int, default=int(os.environ.get("CMDB_WORKERS", default_workers())),
                            help=f"worker processes (default: CMDB_WORKERS, else 2 per CPU: {default_workers()})")
        parser.add_argument("--threads", type=int, default=int(os.environ.get("CMDB_THREADS", 1)),
                            help="threads per worker")
        parser.add_argument("--timeout", type=int, default=120, help="worker timeout in seconds")

    def handle(self, *args: Any, **opts: Any) -> None:
        from gunicorn.app.base import BaseApplication

        from cmdb.core.metrics import enable_multiprocess
        from cmdb.wsgi import application

        enable_multiprocess()  # /metrics sums the request metrics of all gunicorn workers

        bind = f"[{opts['host']}]:{opts['port']}" if ":" in opts["host"] else f"{opts['host']}:{opts['port']}"

        class App(BaseApplication):
            def load_config(self) -> None:
                self.cfg.set("bind", bind)
                self.cfg.set("workers", opts["workers"])
                self.cfg.set("threads", opts["threads"])
                self.cfg.set("timeout", opts["timeout"])
                self.cfg.set("accesslog", os.environ.get("CMDB_ACCESS_LOG") or None)
                self.cfg.set("preload_app", True)
                self.cfg.set("worker_class", "gthread" if opts["threads"] > 1 else "sync")

            def load(self) -> Any:
                return application

        from cmdb.api.views import CachedSchemaView

        # Render the OpenAPI schema once in the master; forked workers inherit it.
        for fmt in ("json", "yaml"):
            CachedSchemaView.content(fmt)
        self.stdout.write(f"Serving the CMDB on http://{bind}/ with {opts['workers']} workers")
        App().run()
