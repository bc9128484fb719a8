"""Amplification benchmark: what one request can make the server do, on PostgreSQL.

Creates the database ``cmdb_bench_limits`` (``--db-name``), migrates it, loads
1,000 CIs (registry rows), 20 services that depend on 50 of them each, and
10,000 software installations (COPY), starts ``cmdb serve --workers 2`` on a
free port of 127.0.0.1 and sends, one at a time:

1. a discovery report over the schema's ``maxItems`` (110,000 packages, ~3 MB);
2. a 50 MB discovery report that fits the first version of the schema
   (5,000 interfaces with 220 IPv6 addresses each), then
   ``GET /api/discovery/hosts/?limit=100`` (how much that host costs every reader);
3. one Alertmanager notification with 2,000 firing alerts (2 per CI: 2,000
   incidents opened, impact analysis for each), the same again (2,000
   updated) and the resolved notification (2,000 resolved);
4. ``GET /api/software/installations/?limit=0`` (the first page: ``MAX_PAGE_SIZE``, 1,000 rows;
   median of 3), then all 10,000 rows, following ``next`` as pynetbox does.

For each it records the HTTP status, the wall-clock time, the CPU seconds of
the server's processes (gunicorn master and workers, from ``/proc``), of the
database's backends, and the size of the response body.  Prints a table; with
``--save FILE`` the figures are kept as JSON, and ``--before FILE`` adds a
previous run's figures (e.g. of the code before a change, run from a checkout
of it) as "before" columns; ``--render FILE`` prints and writes the table of a
saved run without running anything.  The table is written to
``benchmarks/results/limits.md``.  The database is dropped at the end unless
``--keep``.

    .venv/bin/python -m benchmarks.limits
    .venv/bin/python -m benchmarks.limits --save /tmp/after.json --before /tmp/before.json
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg

from benchmarks.api import (
    cmdb_command,
    drop_database,
    free_port,
    recreate_database,
    run_step,
    server_version,
    start_server,
    stop_server,
    wait_ready,
)
from benchmarks.ingest import cpu_snapshot

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "limits.md"
CIS = 1000
SERVICES = 20
PER_SERVICE = 50

LOAD_SCRIPT = """
import datetime as dt, io, json, os, random, sys
import django
django.setup()
from django.db import connection
from cmdb.core.context import change_logging
from cmdb.core.services import objects_create
from cmdb.services.models import Relationship, Service
from cmdb.services.relationships import ensure_builtin_types
from cmdb.software.models import SoftwareProduct, SoftwareVersion
from cmdb.users.services import admin_ensure, token_create

cis, services, per_service, installations = (int(a) for a in sys.argv[1:5])
user, _ = admin_ensure("bench", "bench@localhost", "bench-" + os.urandom(12).hex())
token = token_create(user=user, write_enabled=True, description="limits benchmark")[1]
buf = io.StringIO()
for i in range(1, cis + 1):
    buf.write(f"{i}\\tdcim.device\\tci-{i:04d}\\tactive\\tmedium\\t\\n")
with connection.cursor() as cur:
    with cur.cursor.copy("COPY core_configurationitem (id, kind, name, status, criticality, description) "
                         "FROM STDIN") as cp:
        cp.write(buf.getvalue())
    cur.execute("SELECT setval(pg_get_serial_sequence('core_configurationitem', 'id'), %s)", [cis + 1])
types = ensure_builtin_types()
with change_logging(source="benchmark"):
    svcs = objects_create(Service, [{"name": f"Service {k}", "slug": f"svc-{k}"} for k in range(services)])
    objects_create(Relationship, [{"source_id": s.ci_id, "target_id": 1 + (k * per_service + j) % cis,
                                   "type": types["depends_on"], "origin": "benchmark"}
                                  for k, s in enumerate(svcs) for j in range(per_service)])
products = SoftwareProduct.objects.bulk_create(
    [SoftwareProduct(vendor=f"Vendor {i % 10}", name=f"product-{i}", slug=f"p{i}") for i in range(100)])
versions = SoftwareVersion.objects.bulk_create(
    [SoftwareVersion(product=p, version=f"{v}.0", sort_key=f"{v:02x}") for p in products for v in range(1, 11)])
now = dt.datetime.now(dt.UTC).isoformat()
rng = random.Random(3)
seen = set()
buf = io.StringIO()
while len(seen) < installations:
    version = rng.choice(versions)
    ci = rng.randint(1, cis)
    if (ci, version.pk) in seen:
        continue
    seen.add((ci, version.pk))
    buf.write(f"{ci}\\t{version.pk}\\t{version.product_id}\\t{now}\\t{now}\\tbench\\t{now}\\t{now}\\n")
with connection.cursor() as cur, cur.cursor.copy(
        "COPY software_softwareinstallation (ci_id, version_id, product_id, first_seen, last_seen, source, "
        "created, last_updated) FROM STDIN") as cp:
    cp.write(buf.getvalue())
print(json.dumps({"token": token}))
"""


@dataclass
class Figure:
    key: str
    label: str
    status: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0
    postgres_cpu: float = 0.0
    response_bytes: int = 0
    request_bytes: int = 0
    note: str = ""


def report_skeleton(name: str) -> dict[str, Any]:
    return {
        "schema_version": "1",
        "source": {"type": "agent", "name": "limits-benchmark", "version": "1.0"},
        "collected_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "kind": "host",
        "identifiers": {"hostname": name, "fqdn": f"{name}.bench.example.org"},
        "attributes": {"hostname": name},
    }


def over_max_items_report() -> bytes:
    """110,000 packages: over the first schema's 100,000 (and any later, smaller, limit)."""
    report = report_skeleton("too-many-packages")
    report["software"] = [{"name": f"p{i}", "version": "1"} for i in range(110_000)]
    return orjson.dumps(report)


def fifty_mb_report() -> bytes:
    """Within every per-field limit of the first schema (10,000 interfaces, 1,000 addresses of 64 characters)."""
    report = report_skeleton("fifty-megabytes")
    report["interfaces"] = [
        {"name": f"eth{i}", "addresses": [f"2001:0db8:{i:04x}:0000:0000:8a2e:{j:04x}:7334/128" for j in range(220)]}
        for i in range(5000)
    ]
    return orjson.dumps(report)


def alert_batch(status: str, n: int) -> bytes:
    alerts = []
    for i in range(n):
        labels = {"alertname": "NodeDown", "ci_id": str(1 + i % CIS), "instance": f"10.0.{i // 250}.{i % 250}:9100",
                  "job": "nodes", "severity": "critical"}
        alerts.append({
            "status": status, "labels": labels,
            "annotations": {"summary": f"ci-{1 + i % CIS:04d} is down", "description": "node_exporter did not answer"},
            "startsAt": "2026-03-01T10:00:00.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-03-01T10:30:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up+%3D%3D+0", "fingerprint": f"{i:016x}",
        })
    return orjson.dumps({"version": "4", "groupKey": '{}:{alertname="NodeDown"}', "truncatedAlerts": 0,
                         "status": status, "receiver": "cmdb", "groupLabels": {"alertname": "NodeDown"},
                         "commonLabels": {"alertname": "NodeDown"}, "commonAnnotations": {},
                         "externalURL": "http://alertmanager:9093", "alerts": alerts})


class Server:
    def __init__(self, base: str, token: str, pid: int, stats: psycopg.Connection, db_name: str) -> None:
        self.base, self.token, self.pid, self.stats, self.db_name = base, token, pid, stats, db_name
        self.last = b""

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """One request on its own connection; the status (0: no answer) and the body of the answer.

        The body is sent while the server is not answering yet: a server that refuses a body early
        (413) answers and closes before it has read it all, and its answer is what counts.
        """
        host, port = self.base.removeprefix("http://").split(":")
        head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", f"Authorization: Token {self.token}",
                "Accept: application/json", "Connection: close"]
        if body is not None:
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        sock = socket.create_connection((host, int(port)), timeout=900)
        try:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            view, sent = memoryview(body or b""), 0
            while sent < len(view) and not select.select([sock], [], [], 0)[0]:
                try:
                    sent += sock.send(view[sent:sent + 65536])
                except OSError:
                    break
            response = http.client.HTTPResponse(sock)
            try:
                response.begin()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException) as exc:
                return 0, repr(exc).encode()
        finally:
            sock.close()

    def measure(self, key: str, label: str, method: str, path: str, body: bytes | None = None,
                pages: bool = False) -> Figure:
        """One request (``pages``: a GET and every ``next`` page after it, summed)."""
        print(f"- {label} ...", flush=True)
        cpu0 = cpu_snapshot(self.pid, self.stats, self.db_name)
        t = time.perf_counter()
        status, content = self.request(method, path, body)
        self.last = content
        total = len(content)
        while pages and status == 200 and (following := orjson.loads(content).get("next")):
            status, content = self.request("GET", following.removeprefix(self.base))
            total += len(content)
        seconds = time.perf_counter() - t
        time.sleep(0.2)  # the worker finishes its bookkeeping (change-log commit is inside the request)
        cpu1 = cpu_snapshot(self.pid, self.stats, self.db_name)
        fig = Figure(key, label, status, seconds, cpu1["server"] - cpu0["server"], cpu1["postgres"] - cpu0["postgres"],
                     total, len(body or b""))
        print(f"  HTTP {status} in {seconds:.2f} s, server CPU {fig.server_cpu:.2f} s, "
              f"response {total:,} bytes {self.last[:160]!r}", flush=True)
        return fig


def run(args: argparse.Namespace) -> list[Figure]:
    data_dir = Path(tempfile.mkdtemp(prefix="cmdb-bench-limits-"))
    db_url = f"postgres://{args.pg_user}@{args.pg_host}:{args.pg_port}/{args.db_name}"
    env = {**os.environ, "DATABASE_URL": db_url, "CMDB_DATA_DIR": str(data_dir),
           "DJANGO_SETTINGS_MODULE": "cmdb.settings", "DEBUG": "0", "CMDB_ACCESS_LOG": ""}
    env.pop("REDIS_URL", None)
    server = None
    figures: list[Figure] = []
    try:
        recreate_database(args)
        run_step("cmdb migrate", [*cmdb_command(), "migrate", "--noinput", "-v", "0"], env)
        print("- loading CIs, services and installations ...", flush=True)
        out = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, str(CIS), str(SERVICES), str(PER_SERVICE),
                              str(args.installations)], cwd=ROOT, env=env, capture_output=True, text=True,
                             check=False)
        if out.returncode != 0:
            raise RuntimeError(f"loading failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
        token = json.loads(out.stdout.strip().splitlines()[-1])["token"]
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(env, port, args.workers, data_dir / "server.log")
        wait_ready(base, server, data_dir / "server.log")
        stats = psycopg.connect(db_url, autocommit=True)
        s = Server(base, token, server.pid, stats, args.db_name)
        s.request("GET", "/api/software/installations/?limit=1")  # warm-up of both code paths
        s.request("GET", "/api/status/")

        figures.append(s.measure("over_max_items", "POST a discovery report over `maxItems` (110,000 packages)",
                                 "POST", "/api/discovery/reports/", over_max_items_report()))
        figures.append(s.measure("fifty_mb", "POST a 50 MB discovery report (fits the first schema's field limits)",
                                 "POST", "/api/discovery/reports/", fifty_mb_report()))
        figures.append(s.measure("hosts_100", "GET `/api/discovery/hosts/?limit=100` afterwards", "GET",
                                 "/api/discovery/hosts/?limit=100"))
        for key, label, status in (("alerts_open", "POST Alertmanager, 2,000 firing alerts (open)", "firing"),
                                   ("alerts_update", "POST the same 2,000 again (update)", "firing"),
                                   ("alerts_resolve", "POST 2,000 resolved alerts (resolve)", "resolved")):
            fig = s.measure(key, label, "POST", "/api/monitoring/alertmanager/", alert_batch(status, args.alerts))
            with contextlib.suppress(ValueError, KeyError, TypeError):
                outcomes: dict[str, int] = {}
                for item in orjson.loads(s.last)["results"]:
                    outcomes[item["result"]] = outcomes.get(item["result"], 0) + 1
                fig.note = ", ".join(f"{n:,} {k}" for k, n in sorted(outcomes.items()))
            figures.append(fig)
        runs = [s.measure("installations", "GET `/api/software/installations/?limit=0` (first page: 1,000 rows)",
                          "GET", "/api/software/installations/?limit=0") for _ in range(3)]
        best = runs[0]
        best.seconds = statistics.median(r.seconds for r in runs)
        best.server_cpu = statistics.median(r.server_cpu for r in runs)
        best.postgres_cpu = statistics.median(r.postgres_cpu for r in runs)
        best.note = "median of 3"
        figures.append(best)
        figures.append(s.measure("installations_all", f"GET all {args.installations:,} installations (`limit=0`, "
                                 "then each `next`)", "GET", "/api/software/installations/?limit=0", pages=True))
        counts = {t: stats.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608 - fixed names
                  for t in ("monitoring_incident", "core_objectchange", "discovery_host")}
        print(f"rows afterwards: {counts}", flush=True)
        stats.close()
    finally:
        if server is not None:
            stop_server(server)
        if not args.keep:
            with contextlib.suppress(psycopg.Error):
                drop_database(args)
            shutil.rmtree(data_dir, ignore_errors=True)
    return figures


def _cell(fig: dict[str, Any] | None) -> list[str]:
    if fig is None:
        return ["", "", "", "", ""]
    pg = f"{fig['postgres_cpu']:.2f}" if fig["postgres_cpu"] >= 0 else "?"
    return [str(fig["status"] or "closed"), f"{fig['seconds']:.2f}", f"{fig['server_cpu']:.2f}", pg,
            _size(fig["response_bytes"])]


def _size(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.1f} KiB"
    return f"{n} B"


def table(figures: list[dict[str, Any]], before: list[dict[str, Any]] | None) -> tuple[list[str], list[list[str]]]:
    prior = {f["key"]: f for f in before or []}
    if before:
        header = ["request", "before: HTTP", "s", "server CPU s", "PostgreSQL CPU s", "response", "after: HTTP", "s",
                  "server CPU s", "PostgreSQL CPU s", "response", "results"]
    else:
        header = ["request", "HTTP", "s", "server CPU s", "PostgreSQL CPU s", "response", "results"]
    rows = []
    for fig in figures:
        row = [fig["label"]]
        old = prior.get(fig["key"])
        if before:
            row += _cell(old)
        row += _cell(fig)
        note = fig["note"]
        if old is not None and old["note"] != note:
            note = f"before: {old['note'] or '-'}; after: {note or '-'}"
        rows.append([*row, note])
    return header, rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--installations", type=int, default=10_000)
    p.add_argument("--alerts", type=int, default=2000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--db-name", default="cmdb_bench_limits")
    p.add_argument("--pg-host", default="127.0.0.1")
    p.add_argument("--pg-port", type=int, default=5432)
    p.add_argument("--pg-user", default="postgres")
    p.add_argument("--keep", action="store_true", help="keep the database and the data folder")
    p.add_argument("--save", type=Path, help="write this run's figures as JSON")
    p.add_argument("--before", type=Path, help="a previous run's JSON figures, shown as 'before'")
    p.add_argument("--output", type=Path, default=RESULTS)
    p.add_argument("--label", help="what this run measured (default: the git commit)")
    p.add_argument("--render", type=Path, help="no run: print and write the table of a run saved with --save")
    args = p.parse_args(argv)
    if args.render:
        run_info = json.loads(args.render.read_text())
    else:
        load_before = os.getloadavg()[0]
        figures = [asdict(f) for f in run(args)]
        load_after = os.getloadavg()[0]
        commit = args.label or subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                              capture_output=True, text=True, check=False).stdout.strip() or "?"
        run_info = {"commit": commit, "figures": figures, "date": dt.date.today().isoformat(),
                    "setting": f"`python -m benchmarks.limits` on {platform.node()} ({os.cpu_count()} CPUs, Python "
                               f"{platform.python_version()}), PostgreSQL {server_version(args)} on 127.0.0.1, "
                               f"`cmdb serve --workers {args.workers}`, client on the same machine, one request at "
                               f"a time. Load average {load_before:.2f} before, {load_after:.2f} after (the machine "
                               "is shared)."}
        if args.save:
            args.save.write_text(json.dumps(run_info, indent=1))
    before = json.loads(args.before.read_text()) if args.before else None
    header, rows = table(run_info["figures"], before["figures"] if before else None)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print()
    for r in [header, *rows]:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    md = [f"# Amplification benchmark ({run_info.get('date', '?')})", "",
          run_info.get("setting", "") + " Server CPU: the gunicorn processes' user+system time during the request; "
          "PostgreSQL CPU: that of the database's backends (\"?\" where a backend ended during the request, "
          "taking its CPU time with it). On a loaded machine the seconds include waiting for a CPU; the CPU "
          "columns do not.", "",
          f"After: {run_info['commit']}." + (f" Before: {before['commit']}." if before else ""), "",
          "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    md.append("")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(md))
    print(f"\nwritten to {args.output}")


if __name__ == "__main__":
    main()
