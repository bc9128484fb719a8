"""Reconcile metrics for /metrics (collected by the monitoring app; three queries in all)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Max
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from .models import CIDrift, ReconcileRun


def collect() -> Iterable[Metric]:
    drift = GaugeMetricFamily("cmdb_reconcile_drift_items", "Changes needed on a CI at the last check",
                              labels=["reconciler", "ci_id", "kind", "name", "status"])
    for reconciler, ci_id, kind, name, status, items in CIDrift.objects.values_list(
        "reconciler", "ci_id", "ci__kind", "ci__name", "status", "drift_items"
    ).order_by("reconciler", "ci_id"):
        drift.add_metric([reconciler, str(ci_id), kind or "", name or "", status], items)
    yield drift

    last = GaugeMetricFamily("cmdb_reconcile_last_run_timestamp_seconds",
                             "When the last run of a reconciler and scope finished",
                             labels=["reconciler", "scope", "mode"])
    runs = CounterMetricFamily("cmdb_reconcile_runs", "Reconcile runs by outcome", labels=["reconciler", "status"])
    totals: dict[tuple[str, str], int] = {}
    # Status and end time are the run's job's: one join, still one query.
    for reconciler, scope, dry_run, status, finished, count in (
        ReconcileRun.objects.values_list("reconciler", "scope", "dry_run", "job__status")
        .annotate(last=Max("job__finished"), n=Count("id")).values_list("reconciler", "scope", "dry_run",
                                                                        "job__status", "last", "n").order_by()
    ):
        totals[(reconciler, status)] = totals.get((reconciler, status), 0) + count
        if finished is not None and status in ("completed", "failed"):
            key = [reconciler, scope, "dry_run" if dry_run else "apply"]
            last.add_metric(key, finished.timestamp())
    for (reconciler, status), count in sorted(totals.items()):
        runs.add_metric([reconciler, status], count)
    yield _latest(last)
    yield runs


def _latest(family: GaugeMetricFamily) -> GaugeMetricFamily:
    """Keep one sample per label set (the newest): completed and failed runs were grouped apart."""
    newest: dict[tuple, float] = {}
    for sample in family.samples:
        key = tuple(sorted(sample.labels.items()))
        newest[key] = max(newest.get(key, 0.0), sample.value)
    out = GaugeMetricFamily(family.name, family.documentation, labels=["reconciler", "scope", "mode"])
    for key, value in sorted(newest.items()):
        labels = dict(key)
        out.add_metric([labels["reconciler"], labels["scope"], labels["mode"]], value)
    return out
