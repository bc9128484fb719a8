"""License compliance at scale: 500 licenses over 1,000,000 installations (goal: under 2 s).

Generates on PostgreSQL (database ``cmdb_bench_licenses``, dropped at the end)
100,000 CIs in 12 tenants, 300 products with 4 versions each, 1,000,000
installations (COPY) and 500 license pools across all six metrics (device,
core, user, concurrent, site, subscription; tenant-specific and shared pools,
some expired), then times :func:`cmdb.software.compliance.compliance` (the
function behind the API endpoint, the report page and the metrics).

Usage: ``.venv/bin/python -m benchmarks.licenses [--installations 1000000 --licenses 500]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import random
import time

from . import _pg

SEED = 7


def build(args: argparse.Namespace) -> None:
    from django.db import connection

    from cmdb.software.models import License, SoftwareProduct, SoftwareVersion
    from cmdb.tenancy.models import Tenant

    rng = random.Random(SEED)
    tenants = Tenant.objects.bulk_create([Tenant(name=f"Tenant {i}", slug=f"t{i}") for i in range(12)])
    buf = io.StringIO()
    for i in range(1, args.cis + 1):
        tenant = tenants[i % len(tenants)].pk
        buf.write(f"{i}\tdcim.device\tci-{i}\tactive\tmedium\t\t{tenant}\n")
    with connection.cursor() as cur:
        with cur.cursor.copy("COPY core_configurationitem (id, kind, name, status, criticality, description, "
                             "tenant_id) FROM STDIN") as cp:
            cp.write(buf.getvalue())
        cur.execute("SELECT setval(pg_get_serial_sequence('core_configurationitem', 'id'), %s)", [args.cis + 1])
    products = SoftwareProduct.objects.bulk_create(
        [SoftwareProduct(vendor=f"Vendor {i % 40}", name=f"Product {i}", slug=f"p{i}") for i in range(300)])
    versions = SoftwareVersion.objects.bulk_create(
        [SoftwareVersion(product=p, version=f"{v}.0", sort_key=f"{v:02x}") for p in products for v in range(1, 5)])
    now = dt.datetime.now(dt.UTC).isoformat()
    seen: set[tuple[int, int]] = set()
    buf = io.StringIO()
    while len(seen) < args.installations:
        version = versions[int(rng.paretovariate(1.2)) % len(versions)]  # a few products are everywhere
        ci = rng.randint(1, args.cis)
        if (ci, version.pk) in seen:
            continue
        seen.add((ci, version.pk))
        buf.write(f"{ci}\t{version.pk}\t{version.product_id}\t{now}\t{now}\tbench\t{now}\t{now}\n")
    copy_sql = ("COPY software_softwareinstallation (ci_id, version_id, product_id, first_seen, last_seen, source, "
                "created, last_updated) FROM STDIN")
    with connection.cursor() as cur, cur.cursor.copy(copy_sql) as cp:
        cp.write(buf.getvalue())
    metrics = ["device", "core", "user", "concurrent", "site", "subscription"]
    today = dt.date.today()
    License.objects.bulk_create([
        License(name=f"License {i}", product=products[i % len(products)], metric=metrics[i % len(metrics)],
                quantity=rng.randint(10, 5000), tenant=tenants[i % 13] if i % 13 < 12 else None,
                cost=rng.randint(100, 100000), end_date=today + dt.timedelta(days=rng.randint(-60, 720)),
                peak_usage=rng.randint(0, 100) if i % 12 == 3 else None)
        for i in range(args.licenses)])
    connection.ensure_connection()
    autocommit = connection.connection.autocommit
    connection.connection.autocommit = True
    with connection.cursor() as cur:  # as autovacuum would within a minute of the load (benchmarks/api.py too)
        cur.execute("VACUUM ANALYZE")
    connection.connection.autocommit = autocommit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _pg.add_pg_arguments(parser, "cmdb_bench_licenses")
    parser.add_argument("--cis", type=int, default=100_000)
    parser.add_argument("--installations", type=int, default=1_000_000)
    parser.add_argument("--licenses", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    _pg.recreate(args)
    try:
        _pg.setup_django(args)
        from django.db import connection

        from cmdb.software.compliance import compliance

        t0 = time.perf_counter()
        build(args)
        print(f"generated in {time.perf_counter() - t0:.1f} s", flush=True)
        times, queries = [], 0
        for _ in range(args.runs):
            before = len(connection.queries_log)
            connection.force_debug_cursor = True
            t = time.perf_counter()
            report = compliance()
            times.append((time.perf_counter() - t) * 1000)
            queries = len(connection.queries_log) - before
            connection.force_debug_cursor = False
        s = report.summary()
        rows = [["scenario", "p50 ms", "max ms", "queries", "goal"],
                [f"compliance, {args.licenses} licenses / {args.installations:,} installations ({args.runs} runs)",
                 f"{_pg.median(times):.0f}", f"{max(times):.0f}", str(queries), "< 2,000 ms"]]
        text, md = _pg.render(rows)
        print(text)
        header = [f"Machine: {_pg.machine()}  ",
                  f"Data: {args.cis:,} CIs in 12 tenants, 300 products × 4 versions, {args.installations:,} "
                  f"installations, {args.licenses} licenses over six metrics  ",
                  f"Result: {s['over_used']} over-used, {s['expired']} expired, {s['expiring']} expiring within 30 "
                  f"days, {s['with_unused_seats']} with unused seats, {s['unlicensed_products']} unlicensed "
                  "product/tenant demands"]
        path = _pg.write_result("licenses", "License compliance benchmark", header, md, [
            "`cmdb.software.compliance.compliance()` as the API endpoint, report page and metrics call it: one "
            "aggregate query over the installations (distinct CIs per product and tenant), one for core counts, "
            "plus the license, assignment and tenant look-ups."])
        print(f"written to {path}")
    finally:
        if not args.keep:
            _pg.drop(args)


if __name__ == "__main__":
    main()
