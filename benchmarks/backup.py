"""Backup domain at scale: snapshot-inventory sync of 10,000 snapshots (goal: under 5 s) and the
coverage report over 100,000 CIs (goal: under 1 s); optionally product backup/restore next to plain restic.

Generates on PostgreSQL (database ``cmdb_bench_backup``, dropped at the end) 100,000 CIs (COPY),
10 % of them critical, 200 services with a policy attached each, 40,000 ``runs_on`` edges from the
services to CIs, and a snapshot history, then times

* :func:`backup.services.write_inventory` -- the database half of the inventory sync -- with 10,000
  snapshots as ``restic snapshots --json`` lists them: first sync (all new), then a resync in which
  1,000 were forgotten, 1,000 are new and 2,000 changed tags;
* :func:`backup.coverage.coverage` over every CI (what the API, CSV export and metrics call).

``--data-mb N`` also backs up and restores N MB of mixed files (many small, some large) through the
product (:func:`backup.services.run_backup`, :func:`backup.services.restore_test` with every file) and
with plain ``restic`` by hand on the same data in the same run, and prints the overhead.

Usage: ``.venv/bin/python -m benchmarks.backup [--cis 100000 --snapshots 10000 --data-mb 0]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from . import _pg

SEED = 11
#: The benchmark repositories' password, by reference (the variable is set below).
REFERENCE = "env:CMDB_RESTIC_PASSWORD"


def build(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection

    from backup.models import Policy, PolicyAttachment, Repository
    from cmdb.services.models import RelationshipType

    rng = random.Random(SEED)
    buf = io.StringIO()
    for i in range(1, args.cis + 1):
        crit = "critical" if i % 10 == 0 else "medium"
        buf.write(f"{i}\tdcim.device\tci-{i}\tactive\t{crit}\t\n")
    with connection.cursor() as cur:
        with cur.cursor.copy("COPY core_configurationitem (id, kind, name, status, criticality, description) "
                             "FROM STDIN") as cp:
            cp.write(buf.getvalue())
        cur.execute("SELECT setval(pg_get_serial_sequence('core_configurationitem', 'id'), %s)", [args.cis + 1])
    os.environ["CMDB_RESTIC_PASSWORD"] = "bench"
    repo = Repository(name="bench", repo_url="/srv/restic/bench", password_ref=REFERENCE)
    repo.save()
    policy = Policy(name="bench", paths=["/srv"], repository=repo)
    policy.save()
    services = list(range(1, 201))
    PolicyAttachment.objects.bulk_create([PolicyAttachment(policy=policy, ci_id=s) for s in services])
    runs_on = RelationshipType.objects.get(slug="runs_on").pk
    now = dt.datetime.now(dt.UTC).isoformat()
    edges: set[tuple[int, int]] = set()
    while len(edges) < args.edges:
        edges.add((rng.choice(services), rng.randint(201, args.cis)))
    buf = io.StringIO("".join(f"{s}\t{t}\t{runs_on}\tbench\t\t{now}\t{now}\n" for s, t in edges))
    with connection.cursor() as cur, cur.cursor.copy(
            "COPY services_relationship (source_id, target_id, type_id, origin, description, created, last_updated) "
            "FROM STDIN") as cp:
        cp.write(buf.getvalue())
    return {"repository": repo, "policy": policy}


def listing(n: int, policy_id: int, cis: int, rng: random.Random, start: int = 0) -> list[dict[str, Any]]:
    """``restic snapshots --json`` as a repository with ``n`` snapshots would answer."""
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return [{"id": f"{i:064x}", "short_id": f"{i:08x}", "time": (base + dt.timedelta(minutes=i)).isoformat(),
             "hostname": f"ci-{i % cis}", "paths": ["/srv"], "tags": [f"cmdb-policy={policy_id}",
                                                                       f"cmdb-ci={rng.randint(1, cis)}"]}
            for i in range(start, start + n)]


def timed(fn: Any) -> tuple[float, Any, int]:
    from django.db import connection

    before = len(connection.queries_log)
    connection.force_debug_cursor = True
    t = time.perf_counter()
    result = fn()
    elapsed = (time.perf_counter() - t) * 1000
    connection.force_debug_cursor = False
    return elapsed, result, len(connection.queries_log) - before


def make_data(root: Path, megabytes: int) -> None:
    """Mixed files: 70 % of the bytes in files of 1 MB-64 MB, the rest in 4 KB-64 KB files (random, incompressible)."""
    rng = random.Random(SEED)
    total, large = megabytes << 20, int((megabytes << 20) * 0.7)
    written, n = 0, 0
    while written < total:
        size = rng.randint(1 << 20, 64 << 20) if written < large else rng.randint(4 << 10, 64 << 10)
        size = min(size, total - written)
        folder = root / f"d{n % 50}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{n}.bin").write_bytes(os.urandom(size))
        written += size
        n += 1


def data_rows(args: argparse.Namespace, policy_model: Any, repo_model: Any) -> list[list[str]]:
    from backup import services

    work = Path(tempfile.mkdtemp(prefix="cmdb-bench-backup-"))
    try:
        data = work / "data"
        make_data(data, args.data_mb)
        env = {**os.environ, "RESTIC_PASSWORD": "bench"}
        rows = []
        # plain restic by hand
        subprocess.run(["restic", "-r", str(work / "plain"), "init"], env=env, check=True, capture_output=True)
        t = time.perf_counter()
        subprocess.run(["restic", "--no-cache", "-r", str(work / "plain"), "backup", str(data)], env=env, check=True,
                       capture_output=True)
        plain_backup = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run(["restic", "--no-cache", "-r", str(work / "plain"), "restore", "latest", "--target",
                        str(work / "plain-restore")], env=env, check=True, capture_output=True)
        plain_restore = time.perf_counter() - t
        # the product
        repo = repo_model(name="bench-data", repo_url=str(work / "product"), password_ref=REFERENCE)
        repo.save()
        policy = policy_model(name="bench-data", paths=[str(data)], repository=repo)
        policy.save()
        assert services.init_repository(repo).ok
        t = time.perf_counter()
        outcome = services.run_backup(policy)
        product_backup = time.perf_counter() - t
        assert outcome.ok, outcome.message
        services.sync_inventory(repo)
        test = services.restore_test(policy, sample_size=0, scratch=str(work))
        assert test.ok, test.message
        product_restore = test.details["restore_seconds"]
        for what, plain, product in (("backup", plain_backup, product_backup),
                                     ("restore (restore step of a full restore test)", plain_restore, product_restore)):
            rows.append([f"{what}, {args.data_mb} MB mixed files", f"{plain * 1000:.0f}", f"{product * 1000:.0f}",
                         f"{(product / plain - 1) * 100:+.1f} %", "overhead < 5 %"])
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _pg.add_pg_arguments(parser, "cmdb_bench_backup")
    parser.add_argument("--cis", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=40_000)
    parser.add_argument("--snapshots", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data-mb", type=int, default=0, help="also compare backup/restore with plain restic")
    args = parser.parse_args()
    _pg.recreate(args)
    try:
        _pg.setup_django(args)
        from backup.coverage import coverage
        from backup.models import Policy, Repository, Snapshot
        from backup.services import write_inventory

        t0 = time.perf_counter()
        world = build(args)
        print(f"generated in {time.perf_counter() - t0:.1f} s", flush=True)
        rng = random.Random(SEED)
        repo, policy = world["repository"], world["policy"]
        first = listing(args.snapshots, policy.pk, args.cis, rng)
        ms_first, result, q_first = timed(lambda: write_inventory(repo, first))
        assert result["created"] == args.snapshots, result
        second = first[1000:] + listing(1000, policy.pk, args.cis, rng, start=args.snapshots)
        for snap in second[:2000]:
            snap["tags"] = [*snap["tags"], "moved"]
        ms_second, result, q_second = timed(lambda: write_inventory(repo, second))
        assert result == {"created": 1000, "updated": 2000, "deleted": 1000, "snapshots": args.snapshots}, result
        assert Snapshot.objects.count() == args.snapshots
        times, queries, report = [], 0, []
        for _ in range(args.runs):
            ms, report, queries = timed(coverage)
            times.append(ms)
        rows = [["scenario", "p50 ms", "max ms", "queries", "goal"],
                [f"inventory sync, {args.snapshots:,} new snapshots", f"{ms_first:.0f}", f"{ms_first:.0f}",
                 str(q_first), "< 5,000 ms"],
                [f"inventory resync, {args.snapshots:,} listed (1,000 new, 1,000 gone, 2,000 changed)",
                 f"{ms_second:.0f}", f"{ms_second:.0f}", str(q_second), "< 5,000 ms"],
                [f"coverage report, {args.cis:,} CIs, {args.edges:,} runs_on edges ({args.runs} runs)",
                 f"{_pg.median(times):.0f}", f"{max(times):.0f}", str(queries), "< 1,000 ms"]]
        text, md = _pg.render(rows)
        print(text)
        extra_md = ""
        if args.data_mb:
            data = [["scenario", "plain restic ms", "product ms", "overhead", "goal"],
                    *data_rows(args, Policy, Repository)]
            data_text, extra_md = _pg.render(data)
            print(data_text)
        problems: dict[str, int] = {}
        for row in report:
            problems[row.problem] = problems.get(row.problem, 0) + 1
        header = [f"Machine: {_pg.machine()}  ",
                  f"Data: {args.cis:,} CIs (10 % critical), 200 services with a policy, {args.edges:,} runs_on edges, "
                  f"{args.snapshots:,} snapshots  ",
                  f"Coverage result: {', '.join(f'{k} {v:,}' for k, v in sorted(problems.items()))}"]
        notes = ["The inventory sync times the database half (`backup.services.write_inventory`): what restic "
                 "lists is generated, because making 10,000 real snapshots takes longer than the benchmark.",
                 "Coverage: `backup.coverage.coverage()` as the API, CSV export and metrics call it."]
        if extra_md:
            md = md + "\n\n" + extra_md
        path = _pg.write_result("backup", "Backup benchmark", header, md, notes)
        print(f"written to {path}")
    finally:
        if not args.keep:
            _pg.drop(args)


if __name__ == "__main__":
    main()
