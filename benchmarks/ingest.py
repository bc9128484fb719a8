"""Discovery ingest benchmark: host reports through the HTTP API on PostgreSQL.

Creates the database ``cmdb_bench_discovery`` (``--db-name``), migrates it,
starts ``cmdb serve`` (2 workers) on a free port, then POSTs ``--reports``
host reports with ``--packages`` packages each (drawn from a pool of
``--pool`` package names, fixed seed) to ``/api/discovery/reports/`` from
``--clients`` concurrent client threads:

1. *first ingest*: every report creates a host CI with its identifiers,
   attribute claims, software installations and change records;
2. *re-ingest*: the same hosts again with 1 % of each host's packages at a
   new version (an upgrade each), everything else unchanged.

Prints reports/second per phase and the rows written (inserted + updated +
deleted, from PostgreSQL's table statistics) and writes the table to
``benchmarks/results/ingest.md``.  The database is dropped at the end.

    .venv/bin/python -m benchmarks.ingest                      # 10,000 reports x 200 packages
    .venv/bin/python -m benchmarks.ingest --reports 1000       # a quicker look
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import psycopg

from benchmarks.api import (
    children,
    cmdb_command,
    drop_database,
    free_port,
    recreate_database,
    run_step,
    start_server,
    stop_server,
    wait_ready,
)

ROOT = Path(__file__).resolve().parent.parent
TOKEN_SCRIPT = """
import django, os
django.setup()
from cmdb.users.services import admin_ensure, token_create
user, _ = admin_ensure("bench", "bench@localhost", "bench-" + os.urandom(12).hex())
print(token_create(user=user, write_enabled=True, description="ingest benchmark")[1])
"""


def make_reports(n: int, packages: int, pool: int, seed: int = 5) -> tuple[list[dict[str, Any]], list[str]]:
    rng = random.Random(seed)
    names = [f"pkg-{i:05d}" for i in range(pool)]
    versions = {name: f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}-{rng.randint(1, 5)}"
                for name in names}
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    reports = []
    for i in range(n):
        chosen = rng.sample(names, packages)
        reports.append({
            "schema_version": "1",
            "source": {"type": "agent", "name": "host-agent", "version": "1.0"},
            "collected_at": now,
            "kind": "host",
            "identifiers": {"serial": f"BENCH{i:07d}", "manufacturer": "Dell Inc.",
                            "system_uuid": f"4c4c4544-0000-0000-0000-{i:012d}",
                            "mac_addresses": [f"02:00:{(i >> 24) & 255:02x}:{(i >> 16) & 255:02x}:"
                                              f"{(i >> 8) & 255:02x}:{i & 255:02x}"],
                            "hostname": f"host{i:05d}", "fqdn": f"host{i:05d}.bench.example.org"},
            "attributes": {"hostname": f"host{i:05d}", "manufacturer": "Dell Inc.", "product": "PowerEdge R650",
                           "virtual": False, "os_name": "Debian GNU/Linux", "os_version": "12",
                           "kernel": "6.1.0-18-amd64", "cpu_model": "Intel Xeon Gold 6338", "cpu_sockets": 2,
                           "cpu_cores": 64, "memory_mb": 262144,
                           "disks": [{"name": "sda", "size_gb": 960.0}, {"name": "sdb", "size_gb": 960.0}],
                           "services": [{"protocol": "tcp", "port": 22, "address": "10.0.0.1"}]},
            "interfaces": [{"name": "eno1", "mac_address": f"02:00:{(i >> 24) & 255:02x}:{(i >> 16) & 255:02x}:"
                                                          f"{(i >> 8) & 255:02x}:{i & 255:02x}",
                            "mtu": 1500, "addresses": [f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}/16"]}],
            "software": [{"name": p, "version": versions[p], "package_manager": "dpkg", "architecture": "amd64"}
                         for p in chosen],
        })
    return reports, names


def changed_copy(reports: list[dict[str, Any]], fraction: float) -> list[dict[str, Any]]:
    """Each report with ``fraction`` of its packages at a new version."""
    out = []
    for r in reports:
        r2 = {**r, "software": [dict(p) for p in r["software"]]}
        k = max(1, round(len(r2["software"]) * fraction))
        for p in r2["software"][:k]:
            p["version"] += "+bench1"
        out.append(r2)
    return out


def _proc_cpu(pid: int) -> float:
    """utime + stime of one process in seconds (0 when it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(server_pid: int, conn: psycopg.Connection, db_name: str) -> dict[str, float]:
    """CPU seconds so far of the server (gunicorn master and workers), this client and the database's backends.

    Why: on a shared 2-core machine the wall-clock rate moves with the load; CPU per report does not, so the
    table says where a report's cost goes (server Python, client, PostgreSQL) independent of the neighbours.
    """
    pg_pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> "
                                          "pg_backend_pid()", [db_name]).fetchall()]
    own = os.times()
    return {"server": sum(_proc_cpu(p) for p in [server_pid, *children(server_pid)]),
            "client": own.user + own.system,
            "postgres": sum(_proc_cpu(p) for p in pg_pids)}


def rows_written(conn: psycopg.Connection) -> int:
    time.sleep(1.5)  # table statistics reach the shared counters within a second of the commit
    row = conn.execute("SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables"
                       ).fetchone()
    return int(row[0]) if row else 0


def post_all(base: str, token: str, bodies: list[bytes], clients: int) -> tuple[float, dict[int, int]]:
    """POST every body from ``clients`` threads; the wall-clock seconds and the count per HTTP status.

    Plain ``http.client`` rather than requests: the client shares the server's two cores, and
    requests' own work per call (~1 ms) would be measured as if it were the server's.
    """
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    cursor = iter(range(len(bodies)))
    url = urlsplit(base)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json", "Accept": "application/json"}

    def worker() -> None:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                conn.close()
                return
            conn.request("POST", "/api/discovery/reports/", body=bodies[i], headers=headers)
            response = conn.getresponse()
            text = response.read()
            if response.will_close:
                conn.close()  # gunicorn's sync workers close after each response; reconnect on the next
            with lock:
                statuses[response.status] = statuses.get(response.status, 0) + 1
                if response.status >= 400 and statuses[response.status] <= 3:
                    print(f"  HTTP {response.status}: {text[:300]!r}", flush=True)

    t = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t, statuses


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reports", type=int, default=10_000)
    p.add_argument("--packages", type=int, default=200)
    p.add_argument("--pool", type=int, default=3000, help="distinct package names across all hosts")
    p.add_argument("--changed", type=float, default=0.01, help="fraction of packages changed for the re-ingest")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--workers", type=int, default=max(2, 2 * (os.cpu_count() or 1)),
                   help="gunicorn workers (default as `cmdb serve`: 2 per CPU)")
    p.add_argument("--db-name", default="cmdb_bench_discovery")
    p.add_argument("--pg-host", default="127.0.0.1")
    p.add_argument("--pg-port", type=int, default=5432)
    p.add_argument("--pg-user", default="postgres")
    p.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "ingest.md")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="cmdb-bench-ingest-"))
    db_url = f"postgres://{args.pg_user}@{args.pg_host}:{args.pg_port}/{args.db_name}"
    env = {**os.environ, "DATABASE_URL": db_url, "CMDB_DATA_DIR": str(data_dir),
           "DJANGO_SETTINGS_MODULE": "cmdb.settings", "DEBUG": "0", "CMDB_ACCESS_LOG": ""}
    env.pop("REDIS_URL", None)
    server: subprocess.Popen | None = None
    print(f"Discovery ingest benchmark: {args.reports} reports x {args.packages} packages, database {args.db_name}",
          flush=True)
    try:
        recreate_database(args)
        run_step("cmdb migrate", [*cmdb_command(), "migrate", "--noinput", "-v", "0"], env)
        token = subprocess.run([sys.executable, "-c", TOKEN_SCRIPT], cwd=ROOT, env=env, capture_output=True,
                               text=True, check=True).stdout.strip().splitlines()[-1]
        reports, _names = make_reports(args.reports, args.packages, args.pool)
        first = [orjson.dumps(r) for r in reports]
        second = [orjson.dumps(r) for r in changed_copy(reports, args.changed)]
        del reports
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(env, port, args.workers, data_dir / "server.log")
        wait_ready(base, server, data_dir / "server.log")
        stats = psycopg.connect(host=args.pg_host, port=args.pg_port, user=args.pg_user, dbname=args.db_name,
                                autocommit=True)
        rows: list[list[str]] = []
        load_before = os.getloadavg()[0]
        for label, bodies in (("first ingest", first), (f"re-ingest ({args.changed:.0%} of packages changed)",
                                                        second)):
            before = rows_written(stats)
            print(f"- {label} ...", flush=True)
            cpu0 = cpu_snapshot(server.pid, stats, args.db_name)
            seconds, statuses = post_all(base, token, bodies, args.clients)
            cpu1 = cpu_snapshot(server.pid, stats, args.db_name)
            written = rows_written(stats) - before
            cpu_ms = {k: (cpu1[k] - cpu0[k]) * 1000 / len(bodies) for k in cpu0}
            rate = len(bodies) / seconds
            rows.append([label, f"{len(bodies):,}", f"{seconds:.1f}", f"{rate:.1f}", f"{written:,}",
                         f"{written / len(bodies):.0f}", f"{cpu_ms['server']:.1f}", f"{cpu_ms['client']:.1f}",
                         f"{cpu_ms['postgres']:.1f}", ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))])
            print(f"  {rate:.1f} reports/s, {written:,} rows written, statuses {statuses}, CPU ms/report "
                  + ", ".join(f"{k} {v:.1f}" for k, v in cpu_ms.items()), flush=True)
        counts = {t: stats.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608 - fixed names
                  for t in ("discovery_host", "software_softwareinstallation", "core_objectchange")}
        stats.close()
        load_after = os.getloadavg()[0]
        header = ["phase", "reports", "seconds", "reports/s", "rows written", "rows/report", "server CPU ms/report",
                  "client CPU ms/report", "PostgreSQL CPU ms/report", "HTTP statuses"]
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        print()
        for r in [header, *rows]:
            print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
        print(f"\nfinal rows: {counts}; load average {load_before:.2f} before, {load_after:.2f} after")
        md = [f"# Discovery ingest benchmark ({dt.date.today().isoformat()})", "",
              f"`python -m benchmarks.ingest --reports {args.reports} --packages {args.packages} --pool {args.pool} "
              f"--clients {args.clients} --workers {args.workers}` on {platform.node()} "
              f"({os.cpu_count()} CPUs, Python {platform.python_version()}), PostgreSQL on 127.0.0.1, "
              f"`cmdb serve --workers {args.workers}`, client and server on the same machine. "
              f"Load average {load_before:.2f} before, {load_after:.2f} after (the machine is shared).", "",
              "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        md += ["| " + " | ".join(r) + " |" for r in rows]
        md += ["", f"Final rows: {json.dumps(counts)}.  Goals: first ingest >= 50 reports/s, "
                   "re-ingest >= 200 reports/s.", ""]
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text("\n".join(md))
        print(f"written to {args.output}")
    finally:
        if server is not None:
            stop_server(server)
        with contextlib.suppress(psycopg.Error):
            drop_database(args)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
