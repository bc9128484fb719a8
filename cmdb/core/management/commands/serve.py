"""Serve the web UI and API with gunicorn (the production server).

The address comes from ``--host``/``--port``, else ``CMDB_HOST``/``CMDB_PORT``, else 127.0.0.1:8000.
A port that is already taken is reported in one line ("port 8000 on 127.0.0.1 is in use; set
CMDB_PORT") with exit status 1 before gunicorn starts: gunicorn itself would retry for five seconds
and then log "Can't connect", which reads like a crash of the CMDB.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
from typing import Any

from django.core.management.base import BaseCommand, CommandError


def default_workers() -> int:
    """Two sync workers per CPU: a request spends much of its time waiting on PostgreSQL, so one
    worker per CPU leaves the CPUs idle meanwhile (discovery re-ingest on 2 CPUs: 153 reports/s with
    2 workers, 208 with 4)."""
    return max(2, 2 * (os.cpu_count() or 1))


def tcp_port(value: str) -> int:
    """argparse type for ``--port`` and ``CMDB_PORT`` (argparse converts a string default too)."""
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a TCP port (1-65535); check --port or CMDB_PORT")
    return port


def check_port_free(host: str, port: int) -> None:
    """Bind and release ``host:port`` the way gunicorn will, so a taken or foreign address fails clearly."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CommandError(f"cannot listen on {host!r}: {exc.strerror}; set CMDB_HOST (or --host)") from exc
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does: TIME_WAIT is no conflict
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CommandError(f"port {port} on {host} is in use; set CMDB_PORT (or --port) to a free port, "
                                   "or stop the other server") from exc
            if exc.errno == errno.EACCES:
                raise CommandError(f"no permission to listen on port {port} of {host}; "
                                   "set CMDB_PORT (or --port) to a port above 1023") from exc
            raise CommandError(f"cannot listen on {host} port {port}: {exc.strerror}; "
                               "check CMDB_HOST and CMDB_PORT") from exc


class Command(BaseCommand):
    help = ("Serve the CMDB (UI and API) with gunicorn, the production WSGI server. "
            "Listens on CMDB_HOST:CMDB_PORT (default 127.0.0.1:8000) unless --host/--port say otherwise.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("CMDB_HOST") or "127.0.0.1",
                            help="address to listen on (default: CMDB_HOST, else 127.0.0.1; 0.0.0.0 or :: for all)")
        parser.add_argument("--port", type=tcp_port, default=os.environ.get("CMDB_PORT") or "8000",
                            help="TCP port (default: CMDB_PORT, else 8000)")
        parser.add_argument("--workers", type=int, default=int(os.environ.get("CMDB_WORKERS", default_workers())),
                            help=f"worker processes (default: CMDB_WORKERS, else 2 per CPU: {default_workers()})")
        parser.add_argument("--threads", type=int, default=int(os.environ.get("CMDB_THREADS", 1)),
                            help="threads per worker")
        parser.add_argument("--timeout", type=int, default=120, help="worker timeout in seconds")

    def handle(self, *args: Any, **opts: Any) -> None:
        check_port_free(opts["host"], opts["port"])

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
        # Rendering read the database (custom fields become cf_ filters).  A connection opened here
        # would be inherited by every forked worker: several processes on one PostgreSQL socket
        # garble each other's messages ("the connection is lost" under concurrent requests).  Close
        # it, so each worker opens its own.
        from django.db import connections

        connections.close_all()
        self.stdout.write(f"Serving the CMDB on http://{bind}/ with {opts['workers']} workers")
        App().run()
