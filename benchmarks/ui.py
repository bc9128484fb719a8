"""Web UI page render times on the 5,000-device data set (PostgreSQL), with SQL query counts.

Usage::

    .venv/bin/python -m benchmarks.ui                       # 5,000 devices, 2,000 VMs
    .venv/bin/python -m benchmarks.ui --devices 500 --requests 10   # quick look

Builds the database like ``benchmarks.api`` (same functions: recreate, migrate,
bulk load through ``benchmarks.load``, VACUUM ANALYZE), then renders pages in a
Django subprocess through the test client as a logged-in superuser and as a
tenant-scoped user: the device list with 100 rows, a device detail page, the
dashboard and a global search.  Each page is requested ``--requests`` times
after warm-up; the SQL query count is taken once per page (and once more on a
page with a different size, to show it does not grow with the rows).  Goal:
p50 under 150 ms for the list and the detail page.  The table is printed and
written to ``benchmarks/results/ui.md``; the database is dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.api import (
    analyze_database,
    cmdb_command,
    drop_database,
    machine,
    recreate_database,
    render_markdown,
    render_text,
    run_step,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "ui.md"
GOAL_MS = 150.0


def measure(requests: int, warmup: int) -> dict[str, Any]:
    """Runs inside the Django subprocess: time pages through the test client."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from cmdb.dcim.models import Device
    from cmdb.tenancy.models import Tenant
    from cmdb.users.models import ObjectPermission

    User = get_user_model()
    admin = User.objects.filter(username="bench-ui").first() or User.objects.create_superuser(
        "bench-ui", password=None)
    tenant = Tenant.objects.order_by("pk").first()
    viewer = User.objects.filter(username="bench-ui-viewer").first()
    if viewer is None:
        viewer = User.objects.create_user("bench-ui-viewer", password=None)
        perm = ObjectPermission.objects.create(name="bench-ui", object_types=["*"], actions=["view"])
        perm.users.add(viewer)
        perm.tenants.add(tenant)
    device = Device.objects.filter(rack__isnull=False).order_by("pk").first() or Device.objects.order_by("pk").first()
    serial = Device.objects.exclude(serial="").order_by("pk").values_list("serial", flat=True).first() or "x"
    pages = [
        ("device list, 100 per page", "/dcim/devices/?per_page=100", "/dcim/devices/?per_page=25", "admin"),
        ("device list, 100 per page, tenant-scoped user", "/dcim/devices/?per_page=100",
         "/dcim/devices/?per_page=25", "viewer"),
        ("device list, filtered (site+status), sorted", "/dcim/devices/?per_page=100&site=zittau&status=active"
         "&sort=-name", None, "admin"),
        ("device detail", f"/dcim/devices/{device.pk}/", None, "admin"),
        ("dashboard", "/dashboard/", None, "admin"),
        ("global search (serial)", f"/search/?q={serial}", None, "admin"),
    ]
    clients = {"admin": Client(), "viewer": Client()}
    clients["admin"].force_login(admin)
    clients["viewer"].force_login(viewer)
    out = []
    for label, url, other, who in pages:
        c = clients[who]
        for _ in range(warmup):
            assert c.get(url).status_code == 200, url
        times = []
        for _ in range(requests):
            t = time.perf_counter()
            r = c.get(url)
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200
        with CaptureQueriesContext(connection) as ctx:
            c.get(url)
        queries = len(ctx.captured_queries)
        other_queries = None
        if other:
            with CaptureQueriesContext(connection) as ctx:
                c.get(other)
            other_queries = len(ctx.captured_queries)
        times.sort()
        out.append({"label": label, "url": url, "p50": times[len(times) // 2],
                    "p95": times[min(len(times) - 1, int(len(times) * 0.95))], "queries": queries,
                    "other_queries": other_queries, "n": requests})
    return {"pages": out, "devices": Device.objects.count()}


def table(pages: list[dict[str, Any]]) -> list[list[str]]:
    rows = [["page", "p50 ms", "p95 ms", "SQL queries", "queries at 25 rows", "goal", "met"]]
    for p in pages:
        goal = p["label"] in ("device list, 100 per page", "device detail")
        met = p["p50"] < GOAL_MS and (p["other_queries"] is None or p["other_queries"] == p["queries"])
        rows.append([p["label"], f"{p['p50']:.1f}", f"{p['p95']:.1f}", str(p["queries"]),
                     "" if p["other_queries"] is None else str(p["other_queries"]),
                     f"p50 < {GOAL_MS:.0f} ms, constant queries" if goal else "",
                     ("yes" if met else "NO") if goal else ""])
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ui", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--devices", type=int, default=5000)
    p.add_argument("--vms", type=int, default=2000)
    p.add_argument("--requests", type=int, default=30, help="measured requests per page")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--pg-host", default="127.0.0.1")
    p.add_argument("--pg-port", type=int, default=5432)
    p.add_argument("--pg-user", default="postgres")
    p.add_argument("--db-name", default="cmdb_bench_ui", help="database to (re)create; DROPPED at start and end")
    p.add_argument("--output", type=Path, default=RESULTS)
    p.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)  # the Django subprocess
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.measure_only:
        print(json.dumps(measure(args.requests, args.warmup)))
        return
    data_dir = Path(tempfile.mkdtemp(prefix="cmdb-bench-ui-"))
    db_url = f"postgres://{args.pg_user}@{args.pg_host}:{args.pg_port}/{args.db_name}"
    env = {**os.environ, "DATABASE_URL": db_url, "CMDB_DATA_DIR": str(data_dir),
           "DJANGO_SETTINGS_MODULE": "cmdb.settings", "DEBUG": "0"}
    env.pop("REDIS_URL", None)
    print(f"CMDB web UI benchmark: database {args.db_name}, data folder {data_dir}", flush=True)
    try:
        recreate_database(args)
        run_step("cmdb migrate", [*cmdb_command(), "migrate", "--noinput", "-v", "0"], env)
        info_file = data_dir / "bench.json"
        run_step(f"bulk load {args.devices} devices, {args.vms} VMs",
                 [sys.executable, "-m", "benchmarks.load", "--devices", str(args.devices), "--vms", str(args.vms),
                  "--out", str(info_file)], env)
        analyze_database(args)
        print("- rendering pages ...", flush=True)
        load_before = os.getloadavg()[0]
        proc = subprocess.run([sys.executable, "-m", "benchmarks.ui", "--measure-only", "--requests",
                               str(args.requests), "--warmup", str(args.warmup)],
                              cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"measuring failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        load_after = os.getloadavg()[0]
        rows = table(result["pages"])
        print()
        print(render_text(rows))
        print(f"\n{result['devices']:,} devices; load average (1 min) {load_before:.2f} before, {load_after:.2f} after")
        mach = machine(args)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text("\n".join([
            "# Web UI benchmark",
            "",
            f"Date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}  ",
            f"Machine: {mach['nproc']} CPUs ({mach['cpu']}), {mach['memory']} RAM, PostgreSQL {mach['postgresql']}  ",
            f"Data: {result['devices']:,} devices (benchmarks/load.py: {args.devices} devices, {args.vms} VMs)  ",
            f"Pages rendered in-process through Django's test client, {args.requests} requests each after "
            f"{args.warmup} warm-up; load average {load_before:.2f} before, {load_after:.2f} after.",
            "",
            "Command: `" + " ".join([".venv/bin/python -m benchmarks.ui", *sys.argv[1:]]) + "`",
            "",
            render_markdown(rows),
            "",
        ]))
        print(f"written to {args.output}")
    finally:
        with contextlib.suppress(Exception):
            drop_database(args)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
