"""Job metrics for /metrics (collected by the monitoring app; one query)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Q, Sum
from django.db.models.functions import Now
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily

from .models import FINISHED, Job
from .reaper import WORKER_LOST


def collect() -> Iterable[Metric]:
    jobs = CounterMetricFamily("cmdb_jobs", "Jobs by name and status", labels=["name", "status"])
    failures = CounterMetricFamily("cmdb_job_failures", "Jobs that ended failed", labels=["name"])
    durations = SummaryMetricFamily("cmdb_job_duration_seconds", "Run time of finished jobs", labels=["name"])
    queued = GaugeMetricFamily("cmdb_jobs_queued", "Jobs waiting for a worker", labels=["name"])
    lost = CounterMetricFamily("cmdb_job_lost_attempts", "Attempts whose worker was lost (retried or failed)",
                               labels=["name"])
    expired = GaugeMetricFamily("cmdb_jobs_lease_expired",
                                "Running jobs whose lease expired and no reaper has handled yet", labels=["name"])
    finished: dict[str, list[float]] = {}
    failed: dict[str, int] = {}
    lost_by_name: dict[str, int] = {}
    expired_by_name: dict[str, int] = {}
    for name, status, count, seconds, attempts, lost_failed, lease_expired in (
        Job.objects.values("name", "status")
        .annotate(n=Count("id"), seconds=Sum("duration"), attempts=Sum("attempt"),
                  lost=Count("id", filter=Q(status="failed", error__startswith=WORKER_LOST)),
                  expired=Count("id", filter=Q(status="running", lease_expires__lt=Now())))
        .values_list("name", "status", "n", "seconds", "attempts", "lost", "expired").order_by("name", "status")
    ):
        jobs.add_metric([name, status], count)
        # Every attempt after the first followed a lost worker; a job failed as lost lost one more.
        lost_by_name[name] = lost_by_name.get(name, 0) + (attempts or count) - count + lost_failed
        if lease_expired:
            expired_by_name[name] = expired_by_name.get(name, 0) + lease_expired
        if status == "failed":
            failed[name] = failed.get(name, 0) + count
        if status == "pending":
            queued.add_metric([name], count)
        if status in FINISHED:
            agg = finished.setdefault(name, [0, 0.0])
            agg[0] += count
            agg[1] += seconds or 0.0
    for name in sorted(set(finished) | set(failed)):
        failures.add_metric([name], failed.get(name, 0))
    for name, (count, seconds) in sorted(finished.items()):
        durations.add_metric([name], count_value=count, sum_value=seconds)
    for name, value in sorted(lost_by_name.items()):
        lost.add_metric([name], value)
    for name, value in sorted(expired_by_name.items()):
        expired.add_metric([name], value)
    yield jobs
    yield failures
    yield durations
    yield queued
    yield lost
    yield expired
