"""Impact analysis at scale: the in-memory graph against a PostgreSQL recursive CTE.

Generates, on PostgreSQL (database ``cmdb_bench_impact``, dropped at the end),
100,000 CIs and 300,000 relationships shaped like a data center: a core switch
pair (a 1-of-2 redundancy group), access switches, racks, hosts in clusters
whose host groups need all but two hosts, VMs on the clusters, applications on
the VMs (with dependencies inside application blocks, cycles included) and
services on the applications, some on shared core services.  Then measures,
in one run:

* ``impact_of`` (the project's function: walk, redundancy, paths, names, services,
  tenants, contacts) for 100 random CIs and for a core switch, warm (graph cached)
  and cold (the graph re-read first);
* a plain recursive CTE over the same edge table returning only the set of
  reachable CI ids (no redundancy logic, no paths: less work than ours), on a warm
  connection and on a fresh one;
* the RSS of this process (a web worker would hold the same graph).

Usage: ``.venv/bin/python -m benchmarks.impact [--cis 100000 --edges 300000 --samples 100]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import random
import time
from typing import Any

from . import _pg

SEED = 4


def build(n_cis: int, n_edges: int) -> dict[str, Any]:
    """Write CIs, groups, members and edges with COPY; returns the interesting ids."""
    from django.db import connection

    from cmdb.services.graph import bump
    from cmdb.services.models import RedundancyGroup, RedundancyMember, RelationshipType

    rng = random.Random(SEED)
    types = dict(RelationshipType.objects.values_list("slug", "id"))
    scale = n_cis / 100_000
    layout = [("core", 2, "dcim.device"), ("coregroup", 1, "services.redundancygroup"),
              ("access", int(400 * scale), "dcim.device"), ("rack", int(500 * scale), "dcim.rack"),
              ("host", int(5000 * scale), "dcim.device"), ("hostgroup", int(50 * scale), "services.redundancygroup"),
              ("cluster", int(50 * scale), "virtualization.cluster"),
              ("vm", int(40000 * scale), "virtualization.virtualmachine"),
              ("service", int(3000 * scale), "services.service")]
    used = sum(n for _k, n, _kind in layout)
    layout.append(("app", n_cis - used, "software.application"))
    ids: dict[str, range] = {}
    buf = io.StringIO()
    next_id = 1
    now = dt.datetime.now(dt.UTC).isoformat()
    for key, n, kind in layout:
        ids[key] = range(next_id, next_id + n)
        for i in ids[key]:
            buf.write(f"{i}\t{kind}\t{key}-{i}\tactive\tmedium\t\n")
        next_id += n
    with connection.cursor() as cur:
        copy_sql = "COPY core_configurationitem (id, kind, name, status, criticality, description) FROM STDIN"
        with cur.cursor.copy(copy_sql) as cp:
            cp.write(buf.getvalue())
        cur.execute("SELECT setval(pg_get_serial_sequence('core_configurationitem', 'id'), %s)", [next_id])
    # Redundancy groups: the core pair (1 of 2) and one host group per cluster (all but two hosts).
    hosts = list(ids["host"])
    per_group = len(hosts) // len(ids["hostgroup"])
    groups = [RedundancyGroup(ci_id=ids["coregroup"][0], name="core pair", min_up=1)]
    groups += [RedundancyGroup(ci_id=g, name=f"hosts-{k}", min_up=max(1, per_group - 2))
               for k, g in enumerate(ids["hostgroup"])]
    RedundancyGroup.objects.bulk_create(groups)
    by_ci = {g.ci_id: g.pk for g in RedundancyGroup.objects.all()}
    members = [RedundancyMember(group_id=by_ci[ids["coregroup"][0]], ci_id=c) for c in ids["core"]]
    for k, g in enumerate(ids["hostgroup"]):
        members += [RedundancyMember(group_id=by_ci[g], ci_id=h) for h in hosts[k * per_group:(k + 1) * per_group]]
    RedundancyMember.objects.bulk_create(members, batch_size=5000)

    edges: set[tuple[int, int, int]] = set()
    dep, con, hosted, runs = types["depends_on"], types["connected_to"], types["hosted_on"], types["runs_on"]
    for a in ids["access"]:
        edges.add((a, ids["coregroup"][0], con))
    racks, access = list(ids["rack"]), list(ids["access"])
    for h in hosts:
        edges.add((h, rng.choice(access), con))
        edges.add((h, rng.choice(racks), dep))
    for c, g in zip(ids["cluster"], ids["hostgroup"], strict=True):
        edges.add((c, g, dep))
    clusters, vms, apps = list(ids["cluster"]), list(ids["vm"]), list(ids["app"])
    for v in vms:
        edges.add((v, rng.choice(clusters), hosted))
    for a in apps:
        for v in rng.sample(vms, rng.randint(1, 3)):
            edges.add((a, v, runs))
    services = list(ids["service"])
    core_services = services[:10]
    for s in services:
        for a in rng.sample(apps, rng.randint(5, 15)):
            edges.add((s, a, dep))
        if s not in core_services:
            edges.add((s, rng.choice(core_services), dep))
    block = 100
    while len(edges) < n_edges:  # dependencies between applications of one block (cycles included)
        i = rng.randrange(len(apps))
        lo = (i // block) * block
        j = rng.randrange(lo, min(len(apps), lo + block))
        if i != j:
            edges.add((apps[i], apps[j], dep))
    buf = io.StringIO()
    for s, t, ty in edges:
        buf.write(f"{s}\t{t}\t{ty}\tbenchmark\t\t{now}\t{now}\n")
    with connection.cursor() as cur:
        with cur.cursor.copy("COPY services_relationship (source_id, target_id, type_id, origin, description, "
                             "created, last_updated) FROM STDIN") as cp:
            cp.write(buf.getvalue())
        cur.execute("ANALYZE")
    bump()
    return {"ids": ids, "edges": len(edges), "members": len(members)}


CTE = """
WITH RECURSIVE hit(id) AS (
    SELECT %s::bigint
  UNION
    SELECT n.id FROM hit, LATERAL (
        SELECT r.source_id AS id FROM services_relationship r
         WHERE r.target_id = hit.id AND r.type_id = ANY(%s)
        UNION ALL
        SELECT r.target_id FROM services_relationship r WHERE r.source_id = hit.id AND r.type_id = ANY(%s)
        UNION ALL
        SELECT g.ci_id FROM services_redundancymember m JOIN services_redundancygroup g ON g.id = m.group_id
         WHERE m.ci_id = hit.id
    ) n
)
SELECT count(*) - 1 FROM hit
"""


def cte(ci: int, to_source: list[int], to_target: list[int]) -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(CTE, [ci, to_source, to_target])
        return cur.fetchone()[0]


def answer(ci: int) -> Any:
    """What a change manager sees first: the summary, the affected services and the first 50 CIs."""
    from cmdb.services.impact import impact_of

    result = impact_of([ci])
    result.summary()
    _ = result.services
    result.page(50)
    return result


def timed(fn: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t) * 1000, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _pg.add_pg_arguments(parser, "cmdb_bench_impact")
    parser.add_argument("--cis", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=300_000)
    parser.add_argument("--samples", type=int, default=100, help="random CIs")
    parser.add_argument("--cold", type=int, default=5, help="cold runs per scenario")
    args = parser.parse_args()
    _pg.recreate(args)
    try:
        run(args)
    finally:
        if not args.keep:
            _pg.drop(args)


def run(args: argparse.Namespace) -> None:
    _pg.setup_django(args)
    from django.db import connections

    from cmdb.services.graph import clear_cache, get_graph
    from cmdb.services.impact import impact_of
    from cmdb.services.models import RelationshipType

    t0 = time.perf_counter()
    info = build(args.cis, args.edges)
    print(f"generated {args.cis:,} CIs and {info['edges']:,} relationships in {time.perf_counter() - t0:.1f} s",
          flush=True)
    rss_before = _pg.rss_mb()
    load_ms, graph = timed(get_graph)
    rss_graph = _pg.rss_mb()
    rng = random.Random(SEED + 1)
    sample = rng.sample(range(1, args.cis + 1), args.samples)
    core = info["ids"]["core"][0]
    to_source = list(RelationshipType.objects.filter(propagation="to_source").values_list("pk", flat=True))
    to_target = list(RelationshipType.objects.filter(propagation="to_target").values_list("pk", flat=True))

    ours: dict[str, list[float]] = {k: [] for k in ("rand_warm", "rand_set", "rand_cold", "core_warm", "core_cold")}
    sizes: list[int] = []
    for ci in sample:
        ms, res = timed(lambda ci=ci: answer(ci))
        ours["rand_warm"].append(ms)
        sizes.append(len(res.order))
    for ci in sample:
        # The CTE's own answer (what is reached), which ours computes with states and explaining parents.
        ours["rand_set"].append(timed(lambda ci=ci: len(impact_of([ci]).order))[0])
    core_affected = 0
    for _ in range(10):
        ms, res = timed(lambda: answer(core))
        ours["core_warm"].append(ms)
        core_affected = len(res.order)
    for ci in sample[: args.cold]:
        clear_cache()
        ours["rand_cold"].append(timed(lambda ci=ci: answer(ci))[0])
    for _ in range(args.cold):
        clear_cache()
        ours["core_cold"].append(timed(lambda: answer(core))[0])
    full = [timed(lambda: impact_of([core]).as_dict(limit=1000))[0] for _ in range(3)]
    every = [timed(lambda: len(impact_of([core]).affected))[0] for _ in range(2)]
    rss_after = _pg.rss_mb()

    theirs: dict[str, list[float]] = {k: [] for k in ("rand_warm", "rand_set", "rand_cold", "core_warm", "core_cold")}
    cte_sizes = []
    for ci in sample:
        ms, n = timed(lambda ci=ci: cte(ci, to_source, to_target))
        theirs["rand_warm"].append(ms)
        cte_sizes.append(n)
    theirs["rand_set"] = theirs["rand_warm"]
    for _ in range(3):
        theirs["core_warm"].append(timed(lambda: cte(core, to_source, to_target))[0])
    for ci in sample[: args.cold]:
        connections.close_all()
        theirs["rand_cold"].append(timed(lambda ci=ci: cte(ci, to_source, to_target))[0])
    for _ in range(min(args.cold, 3)):
        connections.close_all()
        theirs["core_cold"].append(timed(lambda: cte(core, to_source, to_target))[0])
    core_cte = cte(core, to_source, to_target)

    rows = [["scenario", "ours p50 ms", "ours p95 ms", "CTE p50 ms", "CTE p95 ms", "speed-up (p50)", "goal"]]
    labels = {"rand_warm": (f"random CI, warm ({args.samples})", "p95 < 50 ms, ≥ 10×"),
              "rand_set": (f"random CI, warm, affected set only ({args.samples})", ""),
              "rand_cold": (f"random CI, cold ({args.cold})", ""),
              "core_warm": (f"core switch, warm (ours 10, CTE {len(theirs['core_warm'])})", "< 500 ms, ≥ 10×"),
              "core_cold": (f"core switch, cold ({args.cold} / {len(theirs['core_cold'])})", "")}
    for key, (label, goal) in labels.items():
        a, b = ours[key], theirs[key]
        rows.append([label, f"{_pg.median(a):.1f}", f"{_pg.pct(a, 0.95):.1f}", f"{_pg.median(b):.1f}",
                     f"{_pg.pct(b, 0.95):.1f}", f"{_pg.median(b) / _pg.median(a):.1f}×", goal])
    text, md = _pg.render(rows)
    print(text)
    header = [
        f"Machine: {_pg.machine()}  ",
        f"Data: {args.cis:,} CIs, {info['edges']:,} relationships, {info['members']:,} redundancy memberships "
        f"(core pair 1 of 2, {len(info['ids']['hostgroup'])} host groups)  ",
        f"Graph load (cold start of a process): {load_ms:.0f} ms; RSS {rss_before:.0f} MB before, "
        f"{rss_graph:.0f} MB with the graph, {rss_after:.0f} MB after all runs (goal < 400 MB)  ",
        f"Affected CIs: random CI median {_pg.median(sizes):.0f} (max {max(sizes)}), core switch {core_affected:,} "
        f"(CTE reach {core_cte:,}); CTE reach for the random CIs median {_pg.median(cte_sizes):.0f}  ",
        f"Core switch, the whole API answer (`as_dict(limit=1000)`: + tenants and contacts of all affected CIs): "
        f"p50 {_pg.median(full):.0f} ms; every affected CI rendered with its path: p50 {_pg.median(every):.0f} ms",
    ]
    notes = [
        "Ours: `cmdb.services.impact.impact_of([ci])` (graph walk with redundancy groups and the explaining "
        "parent of every reached CI), then `summary()`, the affected services with SLA and paths, and the first "
        "page of 50 affected CIs with names and paths: what the impact page and the API show first. "
        "Warm: graph cached in the process (one version query per call). Cold: cache cleared before each call, "
        "so the graph is re-read from PostgreSQL (four queries: the edges as one binary COPY, memberships, services, "
        "types) and rebuilt as numpy CSR arrays. Walk: numpy hops for large impacts, a Python queue up to 256 CIs.",
        "CTE: `WITH RECURSIVE ... UNION` over `services_relationship` (both propagation directions) and the "
        "redundancy memberships, returning only the count of reachable CIs (no redundancy, no paths, no names). "
        "Cold: the first query on a new database connection (PostgreSQL's buffer cache stays warm).",
        "Affected set only: `len(impact_of([ci]).order)`, the CTE's own answer (what is reached; ours also has "
        "each CI's state under the redundancy groups and its explaining parent), against the same CTE timings. "
        "A random CI reaches a median of ~140 CIs, which PostgreSQL walks in about 2 ms; the full first answer "
        "adds the look-ups of names, services and the first page.",
    ]
    path = _pg.write_result("impact", "Impact analysis benchmark", header, md, notes)
    print("\n".join(header))
    print(f"written to {path}")
    _ = graph


if __name__ == "__main__":
    main()
