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
with plain ``restic`` by hand on the same data in the same run, and prints the overhead; the restore
test's verification is reported on its own row (see :func:`data_rows`), in
``benchmarks/results/backup-data.md``.

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


def data_rows(args: argparse.Namespace, policy_model: Any, repo_model: Any) -> tuple[list[list[str]], list[str]]:
    """Back up and restore the same data with plain restic and through the product, step next to step.

    ``--data-runs`` rounds, each into fresh repositories (a second backup into the same one would only
    deduplicate): backup, then restore, plain restic and the product one right after the other, in
    alternating order (plain first in odd rounds, the product first in even ones: the load of the
    shared machine drifts over minutes), each step after ``sync`` so that neither pays for writing
    back the other's dirty pages.  Medians are reported.  The product's restore is the restore step
    of a full restore test (``restore_seconds``, what plain ``restic restore`` does); the test's
    verification that follows (every restored file against the snapshot's content) has no plain
    counterpart that does the same, so it is reported on its own next to the ``restic dump`` it
    reads, streamed to /dev/null.
    """
    import resource
    import statistics

    from backup import restic as r
    from backup import services

    def cpu() -> float:
        """CPU seconds of this process (all threads) and its waited-for children (restic): less sensitive to
        the shared machine's load than wall time."""
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    def cpu_of(name: str, fn: Any) -> Any:
        """``fn`` with its CPU seconds added to ``cpus[name]`` (the product's steps, measured from outside)."""

        def measured(*a: Any, **k: Any) -> Any:
            before = cpu()
            try:
                return fn(*a, **k)
            finally:
                cpus[name][-1] += cpu() - before

        return measured

    cpus: dict[str, list[float]] = {k: [] for k in ("plain backup", "product backup", "plain restore",
                                                     "product restore", "plain dump", "product verify")}
    real_restore, real_verify = r.restore, services._verify
    r.restore, services._verify = cpu_of("product restore", r.restore), cpu_of("product verify", services._verify)

    work = Path(tempfile.mkdtemp(prefix="cmdb-bench-backup-", dir=args.scratch))
    try:
        data = work / "data"
        make_data(data, args.data_mb)
        files = sum(1 for p in data.rglob("*") if p.is_file())
        env = {**os.environ, "RESTIC_PASSWORD": "bench"}
        loads = [os.getloadavg()[0]]
        times: dict[str, list[float]] = {k: [] for k in ("plain backup", "product backup", "plain restore",
                                                          "product restore", "plain dump", "product verify")}
        method = ""
        for round_ in range(args.data_runs):
            plain_cmd = ["restic", "--no-cache", "-r", str(work / f"plain-{round_}")]

            def plain(*cmd: str, plain_cmd: list[str] = plain_cmd) -> float:
                os.sync()
                t, c = time.perf_counter(), cpu()
                subprocess.run([*plain_cmd, *cmd], env=env, check=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
                cpus[f"plain {cmd[0]}"].append(cpu() - c)
                return time.perf_counter() - t

            subprocess.run([*plain_cmd, "init"], env=env, check=True, capture_output=True)
            repo = repo_model(name=f"bench-data-{round_}", repo_url=str(work / f"product-{round_}"),
                              password_ref=REFERENCE)
            repo.save()
            policy = policy_model(name=f"bench-data-{round_}", paths=[str(data)], repository=repo)
            policy.save()
            assert services.init_repository(repo).ok

            def product_backup(policy: Any = policy) -> float:
                os.sync()
                t, c = time.perf_counter(), cpu()
                outcome = services.run_backup(policy)
                elapsed = time.perf_counter() - t
                cpus["product backup"].append(cpu() - c)
                assert outcome.ok, outcome.message
                return elapsed

            def product_restore(policy: Any = policy, repo: Any = repo) -> tuple[float, float, str]:
                services.sync_inventory(repo)
                os.sync()
                cpus["product restore"].append(0.0)
                cpus["product verify"].append(0.0)
                test = services.restore_test(policy, sample_size=0, scratch=str(work))
                assert test.ok, test.message
                assert test.details["files"] == files, (test.details, files)
                return test.details["restore_seconds"], test.details["verify_seconds"], test.details["verify"]

            def plain_restore(plain: Any = plain, round_: int = round_) -> float:
                elapsed = plain("restore", "latest", "--target", str(work / f"plain-restore-{round_}"))
                shutil.rmtree(work / f"plain-restore-{round_}")
                return elapsed

            if round_ % 2 == 0:
                times["plain backup"].append(plain("backup", str(data)))
                times["product backup"].append(product_backup())
                times["plain restore"].append(plain_restore())
                restore_s, verify_s, method = product_restore()
            else:
                times["product backup"].append(product_backup())
                times["plain backup"].append(plain("backup", str(data)))
                restore_s, verify_s, method = product_restore()
                times["plain restore"].append(plain_restore())
            times["product restore"].append(restore_s)
            times["product verify"].append(verify_s)
            times["plain dump"].append(plain("dump", "--archive", "tar", "latest", str(data)))
            loads.append(os.getloadavg()[0])
            shutil.rmtree(work / f"plain-{round_}")
            shutil.rmtree(work / f"product-{round_}")
            print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()), flush=True)
        rows = []
        r.restore, services._verify = real_restore, real_verify
        for what, plain_key, product_key, goal in (
                ("backup", "plain backup", "product backup", "overhead < 5 %"),
                ("restore (restore step of a full restore test)", "plain restore", "product restore",
                 "overhead < 5 %"),
                (f"restore test's verify ({method}: restic dump to /dev/null vs dump + SHA-256 of both sides)",
                 "plain dump", "product verify", "reported")):
            plain_s, product_s = statistics.median(times[plain_key]), statistics.median(times[product_key])
            plain_c, product_c = statistics.median(cpus[plain_key]), statistics.median(cpus[product_key])
            rows.append([f"{what}, {args.data_mb} MB, {files:,} files", f"{plain_s * 1000:.0f}",
                         f"{product_s * 1000:.0f}", f"{(product_s / plain_s - 1) * 100:+.1f} %",
                         f"{plain_c:.1f}", f"{product_c:.1f}", f"{(product_c / plain_c - 1) * 100:+.1f} %", goal])
        notes = [f"Data: {args.data_mb} MB in {files:,} files (70 % of the bytes in 1-64 MB files, the rest in "
                 f"4-64 KB files, random); medians of {args.data_runs} rounds, each into fresh repositories, "
                 "plain and product alternating which goes first; load average (1 min) at the start and after "
                 f"each round: {' / '.join(f'{x:.2f}' for x in loads)}.",
                 "Each round (s): " + "; ".join(
                     f"{k} " + ", ".join(f"{v:.1f}" for v in values) for k, values in times.items()) + ".",
                 "CPU s = user + system of restic and of the product's process (its hashing thread included), "
                 "medians; each round: " + "; ".join(
                     f"{k} " + ", ".join(f"{v:.1f}" for v in values) for k, values in cpus.items()) + "."]
        return rows, notes
    finally:
        shutil.rmtree(work, ignore_errors=True)


def restic_version() -> str:
    return subprocess.run(["restic", "version"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _pg.add_pg_arguments(parser, "cmdb_bench_backup")
    parser.add_argument("--cis", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=40_000)
    parser.add_argument("--snapshots", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data-mb", type=int, default=0, help="also compare backup/restore with plain restic")
    parser.add_argument("--data-runs", type=int, default=3, help="rounds of the --data-mb comparison (medians)")
    parser.add_argument("--scratch", default=None, help="folder for the data, repositories and restores "
                        "(about 5 x --data-mb free; default: the system's temporary folder)")
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
            data_table, data_notes = data_rows(args, Policy, Repository)
            data_text, extra_md = _pg.render([["scenario", "plain restic ms", "product ms", "overhead",
                                               "plain CPU s", "product CPU s", "CPU overhead", "goal"], *data_table])
            print(data_text)
            print("\n".join(data_notes))
            extra_md += "\n\n" + "\n".join(data_notes)
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
        path = _pg.write_result("backup", "Backup benchmark", header, md, notes)
        print(f"written to {path}")
        if extra_md:  # its own file: the comparison does not depend on the number of CIs
            path = _pg.write_result("backup-data", f"Backup benchmark: {args.data_mb} MB through the product vs plain "
                                    "restic", [f"Machine: {_pg.machine()}  ", f"restic: {restic_version()}"],
                                    extra_md, [])
            print(f"written to {path}")
    finally:
        if not args.keep:
            _pg.drop(args)


if __name__ == "__main__":
    main()
