"""VDI at scale: plans for 50 pools with 2,000 desktops (goal: under 2 s) and the capacity check of 50 pools on
a 40-host cluster over a 7-day schedule horizon (goal: under 1 s).

Generates on PostgreSQL (database ``cmdb_bench_vdi``, dropped at the end) one cluster of 40 hosts (32 cores,
512 GiB; every fourth host with 4 NVIDIA A16 GPUs), a golden image, 50 pools (a third of them with a vGPU
profile), each with weekday rules (mornings and afternoons, Monday to Friday) and every second one with an ICS
timetable of 10 weekly lectures, and 2,000 desktops (40 per pool, a quarter in use, a few broken), then times

* ``vdi.runs.plan_pools`` for all pools, with the hypervisors' domain lists given (all desktops but the
  broken ones present, plus a stray domain per pool): the planning a reconcile run does after observing;
* ``vdi.capacity.check`` for the cluster: 672 steps of 15 minutes x 50 pools, CPU, memory, GPU slots.

Usage: ``.venv/bin/python -m benchmarks.vdi [--pools 50 --desktops 2000 --hosts 40 --runs 5]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from . import _pg


def ics(pool: int) -> str:
    events = []
    for k in range(10):
        day = 12 + k % 5
        hour = 8 + (pool + k) % 8
        events.append(f"BEGIN:VEVENT\nUID:p{pool}-{k}\nSUMMARY:Lecture {k}\nLOCATION:Z-{pool}.0{k % 3}\n"
                      f"DTSTART;TZID=Europe/Berlin:202601{day:02d}T{hour:02d}0000\n"
                      f"DTEND;TZID=Europe/Berlin:202601{day:02d}T{hour + 1:02d}3000\nRRULE:FREQ=WEEKLY;COUNT=30\n"
                      "END:VEVENT")
    return "BEGIN:VCALENDAR\nVERSION:2.0\n" + "\n".join(events) + "\nEND:VCALENDAR\n"


def build(args: argparse.Namespace) -> None:
    from cmdb.core.bulk import bulk_create
    from cmdb.core.context import change_logging
    from cmdb.virtualization.models import Cluster, ClusterType, VirtualMachine
    from tests import factories
    from vdi.models import (
        ClusterPolicy,
        Desktop,
        GpuProfile,
        HostCapacity,
        Pool,
        PoolScheduleRule,
        TimetableSource,
    )

    with change_logging(source="benchmark"):
        ctype = ClusterType(name="libvirt", slug="libvirt")
        ctype.save()
        cluster = Cluster(name="vdi", type=ctype)
        cluster.save()
        hosts = [factories.device(f"hv{i:02d}", cluster=cluster) for i in range(args.hosts)]
        HostCapacity.objects.bulk_create([
            HostCapacity(host=h, cpu_cores=32, memory_mb=512 * 1024, uri=f"qemu+ssh://{h.name}/system",
                         **({"gpu_model": "A16", "gpu_count": 4, "gpu_frame_buffer_mb": 16384} if i % 4 == 0 else {}))
            for i, h in enumerate(hosts)])
        ClusterPolicy.objects.create(cluster=cluster, cpu_overcommit=4)
        profile = GpuProfile(name="nvidia-a16-2q", slug="nvidia-a16-2q", gpu_model="A16", frame_buffer_mb=2048)
        profile.save()
        golden = VirtualMachine(name="golden", cluster=cluster, vcpus=2, memory=4096)
        golden.save()
        per_pool = args.desktops // args.pools
        pools = bulk_create(Pool, [
            Pool(name=f"pool{i:02d}", golden_image_id=golden.ci_id, cluster=cluster, vcpus=2, memory_mb=4096,
                 min_size=per_pool // 4, max_size=per_pool + 10, spare=2,
                 gpu_profile=profile if i % 3 == 0 else None) for i in range(args.pools)])
        PoolScheduleRule.objects.bulk_create([
            PoolScheduleRule(pool=p, weekday=d, start=dt.time(s), end=dt.time(e), size=size)
            for p in pools for d in range(5)
            for s, e, size in ((8, 12, per_pool), (12, 18, per_pool // 2))])
        for i, p in enumerate(pools):
            if i % 2 == 0:
                TimetableSource(pool=p, name="timetable", content=ics(i), lead_minutes=15,
                                size=per_pool + 10).save()
        bulk_create(Desktop, [
            Desktop(name=f"{p.name}-{k:03d}", pool=p, host=hosts[(i * per_pool + k) % len(hosts)],
                    state="broken" if k % 37 == 0 else "in_use" if k % 4 == 0 else "ready")
            for i, p in enumerate(pools) for k in range(1, per_pool + 1)])


def timed(fn, runs: int) -> tuple[list[float], int, object]:
    from django.db import connection

    times, queries, result = [], 0, None
    for _ in range(runs):
        before = len(connection.queries_log)
        connection.force_debug_cursor = True
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
        queries = len(connection.queries_log) - before
        connection.force_debug_cursor = False
    return times, queries, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _pg.add_pg_arguments(parser, "cmdb_bench_vdi")
    parser.add_argument("--pools", type=int, default=50)
    parser.add_argument("--desktops", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=40)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    _pg.recreate(args)
    try:
        _pg.setup_django(args)
        from django.utils import timezone

        from vdi import capacity
        from vdi.models import Desktop, Pool
        from vdi.runs import plan_pools
        from vdi.schedule import week_grid

        t0 = time.perf_counter()
        build(args)
        print(f"generated in {time.perf_counter() - t0:.1f} s", flush=True)
        pools = list(Pool.objects.select_related("gpu_profile", "golden_image").order_by("name"))
        domains: dict[str, set[str]] = {p.name: {f"{p.name}-999"} for p in pools}
        for pool, name in Desktop.objects.exclude(state="broken").values_list("pool__name", "name"):
            domains[pool].add(name)
        monday_ten = timezone.make_aware(dt.datetime(2026, 1, 19, 10, 0))
        plan_times, plan_queries, plans = timed(lambda: plan_pools(pools, domains, at=monday_ten), args.runs)
        items = sum(len(v) for v in plans.values())
        cluster_id = pools[0].cluster_id
        cap_times, cap_queries, answer = timed(lambda: capacity.check([cluster_id], grid=week_grid(monday_ten)),
                                               args.runs)
        rows = [["scenario", "p50 ms", "max ms", "queries", "goal"],
                [f"plan {len(pools)} pools / {Desktop.objects.count():,} desktops ({items} items)",
                 f"{_pg.median(plan_times):.0f}", f"{max(plan_times):.0f}", str(plan_queries), "< 2,000 ms"],
                [f"capacity {len(pools)} pools, {args.hosts} hosts, 7 days x 15 min",
                 f"{_pg.median(cap_times):.0f}", f"{max(cap_times):.0f}", str(cap_queries), "< 1,000 ms"]]
        text, md = _pg.render(rows)
        print(text)
        reasons = answer[0].reasons or ["none"]
        header = [f"Machine: {_pg.machine()}  ",
                  f"Data: {args.hosts} hosts, {len(pools)} pools (rules Mon-Fri, every second one with a 10-lecture "
                  f"weekly timetable, a third with a vGPU profile), {Desktop.objects.count():,} desktops  ",
                  f"Capacity shortfalls found: {'; '.join(reasons)}"]
        path = _pg.write_result("vdi", "VDI benchmark", header, md, [
            "`vdi.runs.plan_pools` (desktops: one query; wanted sizes of all pools: one array computation with one "
            "query for rules and one for lectures) and `vdi.capacity.check` (pools x 672 steps as numpy arrays; "
            "supply in three queries)."])
        print(f"written to {path}")
    finally:
        if not args.keep:
            _pg.drop(args)


if __name__ == "__main__":
    main()
