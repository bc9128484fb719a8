"""Metrics of lost workers: attempts lost (retried or failed) and overdue leases, in the one metrics query."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from prometheus_client import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from cmdb.jobs import metrics
from cmdb.jobs.models import Job

pytestmark = pytest.mark.django_db


class _Jobs(Collector):
    def collect(self) -> Any:
        return metrics.collect()


def test_lost_attempts_and_overdue_leases(django_assert_max_num_queries: Any) -> None:
    now = timezone.now()
    minute = dt.timedelta(minutes=1)
    Job.objects.create(name="jobs.echo", status="completed", attempt=2, max_attempts=3)  # lost once, then done
    Job.objects.create(name="jobs.echo", status="failed", attempt=2, max_attempts=2,
                       error="Worker lost: h:1 stopped renewing the job's lease")  # lost twice
    Job.objects.create(name="jobs.echo", status="failed", error="Traceback: RuntimeError")  # the job's own failure
    Job.objects.create(name="jobs.sleep", status="running", lease_expires=now - minute)  # overdue, not reaped yet
    Job.objects.create(name="jobs.sleep", status="running", lease_expires=now + minute)  # alive
    registry = CollectorRegistry()
    registry.register(_Jobs())
    with django_assert_max_num_queries(1):
        text = generate_latest(registry).decode()
    assert 'cmdb_job_lost_attempts_total{name="jobs.echo"} 3.0' in text
    assert 'cmdb_job_lost_attempts_total{name="jobs.sleep"} 0.0' in text
    assert 'cmdb_jobs_lease_expired{name="jobs.sleep"} 1.0' in text
    assert 'cmdb_jobs_lease_expired{name="jobs.echo"}' not in text
    assert 'cmdb_job_failures_total{name="jobs.echo"} 2.0' in text
