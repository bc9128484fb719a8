"""Job metrics for /metrics (collected by the monitoring app; one query)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily

from .models import Job


def collect() -> Iterable[Metric]:
    jobs = CounterMetricFamily("cmdb_jobs", "Jobs by name and status", labels=["name", "status"])
    failures = CounterMetricFamily("cmdb_job_failures", "Jobs that ended failed", labels=["name"])
    durations = SummaryMetricFamily("cmdb_job_duration_seconds", "Run time of finished jobs", labels=["name"])
    queued = GaugeMetricFamily("cmdb_jobs_queued", "Jobs waiting for a worker", labels=["name"])
    finished: dict[str, list[float]] = {}
    failed: dict[str, int] = {}
    for name, status, count, seconds in (
        Job.objects.values("name", "status").annotate(n=Count("id"), seconds=Sum("duration"))
        .values_list("name", "status", "n", "seconds").order_by("name", "status")
    ):
        jobs.add_metric([name, status], count)
        if status == "failed":
            failed[name] = failed.get(name, 0) + count
        if status == "pending":
            queued.add_metric([name], count)
        if status in ("completed", "failed"):
            agg = finished.setdefault(name, [0, 0.0])
            agg[0] += count
            agg[1] += seconds or 0.0
    for name in sorted(set(finished) | set(failed)):
        failures.add_metric([name], failed.get(name, 0))
    for name, (count, seconds) in sorted(finished.items()):
        durations.add_metric([name], count_value=count, sum_value=seconds)
    yield jobs
    yield failures
    yield durations
    yield queued
