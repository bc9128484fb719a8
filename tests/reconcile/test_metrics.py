"""Job and reconcile metrics: values from real rows, a constant number of queries."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from prometheus_client import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from cmdb.jobs import metrics as job_metrics
from cmdb.jobs.models import Job
from cmdb.reconcile import metrics as reconcile_metrics
from cmdb.reconcile.models import CIDrift, ReconcileRun
from tests import factories as f

pytestmark = pytest.mark.django_db


class _From(Collector):
    def __init__(self, module: Any) -> None:
        self.module = module

    def collect(self) -> Any:
        return self.module.collect()


def _render(module: Any) -> str:
    registry = CollectorRegistry()
    registry.register(_From(module))
    return generate_latest(registry).decode()


def test_reconcile_and_job_metrics(django_assert_max_num_queries: Any) -> None:
    w = f.world()
    now = timezone.now()
    # A run's status and end are its job's.
    done = Job.objects.create(name="reconcile.run", status="completed", finished=now)
    run = ReconcileRun.objects.create(reconciler="ansible", job=done)
    failed = Job.objects.create(name="reconcile.run", status="failed", finished=now)
    ReconcileRun.objects.create(reconciler="ansible", job=failed, dry_run=False)
    for i, device in enumerate(w.devices.values()):
        CIDrift.objects.create(reconciler="ansible", ci_id=device.ci_id, run=run, checked=now,
                               status="drifted" if i else "in_sync", drift_items=i)
    Job.objects.create(name="jobs.echo", status="completed", duration=1.5)
    Job.objects.create(name="jobs.echo", status="failed", duration=0.5)
    Job.objects.create(name="jobs.echo", status="pending")
    with django_assert_max_num_queries(3):
        text = _render(reconcile_metrics)
    samples = {(m.name, tuple(sorted(m.labels.items()))): m.value
               for family in reconcile_metrics.collect() for m in family.samples}
    db01 = w.devices["db01"]
    key = (("ci_id", str(db01.ci_id)), ("kind", db01.ci.kind), ("name", "db01"), ("reconciler", "ansible"),
           ("status", "drifted"))
    assert samples[("cmdb_reconcile_drift_items", key)] == 2
    assert 'cmdb_reconcile_runs_total{reconciler="ansible",status="failed"} 1.0' in text
    assert samples[("cmdb_reconcile_last_run_timestamp_seconds",
                    (("mode", "apply"), ("reconciler", "ansible"), ("scope", "all")))] == now.timestamp()
    assert len([k for k in samples if k[0] == "cmdb_reconcile_drift_items"]) == 4
    with django_assert_max_num_queries(1):
        text = _render(job_metrics)
    assert 'cmdb_jobs_total{name="jobs.echo",status="failed"} 1.0' in text
    assert 'cmdb_job_failures_total{name="jobs.echo"} 1.0' in text
    assert 'cmdb_job_duration_seconds_count{name="jobs.echo"} 2.0' in text
    assert 'cmdb_job_duration_seconds_sum{name="jobs.echo"} 2.0' in text
    assert 'cmdb_jobs_queued{name="jobs.echo"} 1.0' in text
