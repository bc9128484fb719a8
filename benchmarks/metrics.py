"""Monitoring benchmark: /metrics for 100,000 CIs and the HTTP SD for 20,000 targets, on PostgreSQL.

Creates the PostgreSQL database ``cmdb_bench_monitoring``, migrates it and
bulk-loads CIs in two steps (a tenth first, then the rest) so the SQL query
count of both endpoints can be shown at two sizes (it must not change).
Devices get a primary IPv4 and a node-exporter monitor (the SD targets); the
other CIs are virtual machines.  Then it starts ``cmdb serve`` (gunicorn,
2 workers, multiprocess request metrics) on a free port of 127.0.0.1, times
``GET /metrics`` and ``GET /api/monitoring/sd/devices/`` (whole bodies
downloaded), checks that the request counter in /metrics sums both workers,
and compares with rendering ``cmdb_ci_info`` through prometheus_client's
objects.  Prints a table, writes ``benchmarks/results/metrics.md`` and drops
the database unless ``--keep``.

    .venv/bin/python -m benchmarks.metrics                         # 100,000 CIs, 20,000 targets
    .venv/bin/python -m benchmarks.metrics --cis 10000 --targets 2000 --requests 3   # quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
import requests
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "metrics.md"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cis", type=int, default=100_000, help="configuration items in total")
    p.add_argument("--targets", type=int, default=20_000, help="devices with monitoring enabled (SD targets)")
    p.add_argument("--requests", type=int, default=5, help="timed requests per endpoint")
    p.add_argument("--db-name", default="cmdb_bench_monitoring")
    p.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL (no db)")
    p.add_argument("--keep", action="store_true", help="keep the database")
    return p.parse_args()


def admin(args: argparse.Namespace) -> psycopg.Connection:
    return psycopg.connect(f"{args.pg}/postgres", autocommit=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup_django(args: argparse.Namespace, data_dir: str) -> None:
    os.environ["DATABASE_URL"] = f"{args.pg}/{args.db_name}"
    os.environ["CMDB_DATA_DIR"] = data_dir
    os.environ.pop("REDIS_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "cmdb.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def load(start: int, devices: int, vm_start: int, vms: int) -> None:
    """Bulk-insert monitored devices (a primary IPv4 each) numbered from ``start`` and VMs from ``vm_start``."""
    from cmdb.core import bulk
    from cmdb.dcim.models import Device, DeviceRole, DeviceType, Manufacturer, Site
    from cmdb.ipam.models import IPAddress
    from cmdb.tenancy.models import Tenant
    from cmdb.virtualization.models import Cluster, ClusterType, VirtualMachine
    from monitoring.models import ExporterType, Monitor

    site, _ = Site.objects.get_or_create(slug="zittau", defaults={"name": "Zittau"})
    tenants = [Tenant.objects.get_or_create(slug=f"t{i}", defaults={"name": f"Tenant {i}"})[0] for i in range(12)]
    maker, _ = Manufacturer.objects.get_or_create(slug="dell", defaults={"name": "Dell"})
    dtype, _ = DeviceType.objects.get_or_create(manufacturer=maker, slug="r650", defaults={"model": "R650"})
    role, _ = DeviceRole.objects.get_or_create(slug="server", defaults={"name": "Server"})
    ctype, _ = ClusterType.objects.get_or_create(slug="pve", defaults={"name": "PVE"})
    cluster = Cluster.objects.filter(name="bench").first() or Cluster.objects.create(name="bench", type=ctype,
                                                                                      site=site)
    node, _ = ExporterType.objects.get_or_create(slug="node", defaults={"name": "Node", "port": 9100})
    seen = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for lo in range(start, start + devices, 5000):
        hi = min(lo + 5000, start + devices)
        ips = IPAddress.objects.bulk_create(
            [IPAddress(address=f"10.{64 + i // 65536}.{i // 256 % 256}.{i % 256}/16", family=4,
                       dns_name=f"dev{i:06d}.bench.example") for i in range(lo, hi)])
        devs = bulk.bulk_create(Device, [
            Device(name=f"dev{i:06d}", site=site, device_type=dtype, manufacturer=maker, role=role,
                   tenant=tenants[i % 12], primary_ip4=ip, last_seen=seen + dt.timedelta(minutes=i))
            for i, ip in zip(range(lo, hi), ips, strict=True)], log=False)
        Monitor.objects.bulk_create([Monitor(ci_id=d.ci_id, exporter_type=node) for d in devs])
    for lo in range(vm_start, vm_start + vms, 10000):
        hi = min(lo + 10000, vm_start + vms)
        bulk.bulk_create(VirtualMachine, [
            VirtualMachine(name=f"vm{i:06d}", cluster=cluster, site=site, tenant=tenants[i % 12])
            for i in range(lo, hi)], log=False)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def query_counts(token_user: Any) -> tuple[int, int]:
    """SQL queries of /metrics and of the SD endpoint, counted in-process with Django's test client."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(token_user)
    counts = []
    for url in ("/metrics", "/api/monitoring/sd/devices/"):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
            b"".join(response.streaming_content)
        assert response.status_code == 200, url
        counts.append(len(ctx.captured_queries))
    return counts[0], counts[1]


def prometheus_client_render() -> tuple[float, int]:
    """The same cmdb_ci_info built as prometheus_client objects (the road not taken), for comparison."""
    from prometheus_client.core import GaugeMetricFamily
    from prometheus_client.exposition import generate_latest

    from monitoring import selectors

    started = time.perf_counter()
    sites, services = selectors.site_by_ci(), selectors.service_by_ci()
    family = GaugeMetricFamily("cmdb_ci_info", "info", labels=["ci_id", "kind", "name", "site", "tenant", "service",
                                                               "criticality", "status"])
    for ci_id, kind, name, status, crit, tenant, _seen in selectors.ci_rows(None):
        family.add_metric([str(ci_id), kind, name, sites.get(ci_id, ""), tenant or "", services.get(ci_id, ""),
                           crit, status], 1)

    class Reg:
        def collect(self) -> list[Any]:
            return [family]

    size = len(generate_latest(Reg()))  # type: ignore[arg-type]
    return time.perf_counter() - started, size


def timed_get(session: requests.Session, url: str, n: int) -> tuple[list[float], int]:
    times, size = [], 0
    for _ in range(n + 1):
        started = time.perf_counter()
        response = session.get(url, timeout=120)
        body = response.content
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, (url, response.status_code, body[:300])
        times.append(elapsed)
        size = len(body)
    return times[1:], size  # first request warms the worker


def serve(args: argparse.Namespace, data_dir: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"{args.pg}/{args.db_name}", "CMDB_DATA_DIR": data_dir}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "cmdb"), "serve", "--port", str(port), "--workers", "2"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            requests.get(f"{base}/api/", timeout=2)  # not /api/status/: that one's requests are counted below
            return proc, base
        except requests.RequestException:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("cmdb serve did not start")


def status_requests_counted(session: requests.Session, base: str, n: int = 40) -> tuple[int, set[float]]:
    """Send n requests to /api/status/ and read the counter back from several scrapes (both workers)."""
    from prometheus_client.parser import text_string_to_metric_families

    for _ in range(n):
        session.get(f"{base}/api/status/", timeout=10, headers={"Connection": "close"})
    seen = set()
    for _ in range(6):
        text = session.get(f"{base}/metrics", timeout=120, headers={"Connection": "close"}).text
        total = sum(s.value for fam in text_string_to_metric_families(text) if fam.name == "cmdb_http_requests"
                    for s in fam.samples if s.name == "cmdb_http_requests_total" and s.labels["view"] == "api-status")
        seen.add(total)
    return n, seen


def main() -> None:
    args = parse_args()
    data_dir = tempfile.mkdtemp(prefix="cmdb-bench-monitoring-")
    with admin(args) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(args.db_name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(args.db_name)))
    proc = None
    try:
        setup_django(args, data_dir)
        from django.contrib.auth import get_user_model

        from cmdb.core.models import ConfigurationItem
        from cmdb.users.services import token_create

        user = get_user_model().objects.create_superuser("bench", password=None)
        _token, key = token_create(user=user, write_enabled=False)

        small_devices, small_vms = args.targets // 10, (args.cis - args.targets) // 10
        started = time.perf_counter()
        load(0, small_devices, 0, small_vms)
        small_cis = ConfigurationItem.objects.count()
        small_q = query_counts(user)
        load(small_devices, args.targets - small_devices, small_vms, args.cis - args.targets - small_vms)
        load_s = time.perf_counter() - started
        big_cis = ConfigurationItem.objects.count()
        big_q = query_counts(user)
        print(f"loaded {big_cis} CIs in {load_s:.0f} s", file=sys.stderr)

        pc_s, pc_size = prometheus_client_render()
        proc, base = serve(args, data_dir)
        session = requests.Session()
        session.headers["Authorization"] = f"Token {key}"
        m_times, m_size = timed_get(session, f"{base}/metrics", args.requests)
        sd_times, sd_size = timed_get(session, f"{base}/api/monitoring/sd/devices/", args.requests)
        sent, counted = status_requests_counted(session, base)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with admin(args) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(args.db_name)))

    def ms(values: list[float]) -> str:
        low, high = min(values) * 1000, max(values) * 1000
        return f"{statistics.median(values) * 1000:,.0f} ms (min {low:,.0f}, max {high:,.0f})"

    rows = [
        ("GET /metrics, whole body", f"{big_cis:,} CIs", ms(m_times), f"{m_size / 1e6:.1f} MB"),
        ("GET /api/monitoring/sd/devices/", f"{args.targets:,} targets", ms(sd_times), f"{sd_size / 1e6:.1f} MB"),
        ("cmdb_ci_info via prometheus_client objects (in-process, for comparison)", f"{big_cis:,} CIs",
         f"{pc_s * 1000:,.0f} ms", f"{pc_size / 1e6:.1f} MB"),
    ]
    lines = [
        "# Monitoring benchmark (`benchmarks/metrics.py`)",
        "",
        f"{dt.date.today()} · {platform.node()} · {os.cpu_count()} CPUs · PostgreSQL · `cmdb serve` with 2 gunicorn "
        f"workers · median of {args.requests} requests after one warm-up, client on the same machine.",
        "",
        "| what | size of data | time | body |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
        "",
        "SQL queries per request (must not grow with the data):",
        "",
        f"| endpoint | at {small_cis:,} CIs / {small_devices:,} targets "
        f"| at {big_cis:,} CIs / {args.targets:,} targets |",
        "|---|---|---|",
        f"| /metrics | {small_q[0]} | {big_q[0]} |",
        f"| /api/monitoring/sd/devices/ | {small_q[1]} | {big_q[1]} |",
        "",
        f"Multiprocess request metrics: {sent} requests to /api/status/ spread over 2 workers; "
        f"`cmdb_http_requests_total{{view=\"api-status\"}}` read back from 6 scrapes: {sorted(counted)} "
        f"({'consistent' if counted == {float(sent)} else 'INCONSISTENT'}).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
