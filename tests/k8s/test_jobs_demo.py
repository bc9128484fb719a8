"""The k8s jobs (scheduled verify and discovery, k8s/jobs.py) and the demo step (k8s/demo.py).

The jobs run through the jobs framework (a Job row, ``job_run``) against the real kube-apiserver; the demo
step is tested where it must work: on a machine with no cluster at all.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from cmdb.jobs.models import Job, Schedule
from cmdb.jobs.registry import job_enqueue, job_kwargs_errors, job_run
from cmdb.services.models import Service
from k8s import demo
from k8s.models import Cluster, Namespace, NamespaceStatus, Node
from tests import factories

pytestmark = pytest.mark.django_db


def _run(name: str, **kwargs: Any) -> Job:
    record = job_enqueue(name, kwargs=kwargs)
    job_run(record.pk)
    return Job.objects.get(pk=record.pk)


def test_job_arguments_are_checked_when_scheduled() -> None:
    assert job_kwargs_errors("k8s.verify", {"scope": "cluster:a"}) == {}
    assert "scope" in job_kwargs_errors("k8s.verify", {"scope": "galaxy:far"})
    assert "bogus" in job_kwargs_errors("k8s.verify", {"bogus": 1})
    assert job_kwargs_errors("k8s.discover", {"clusters": ["a", "b"]}) == {}
    assert "clusters" in job_kwargs_errors("k8s.discover", {"clusters": "a"})
    schedule = Schedule(name="verify", job_name="k8s.verify", cron="*/15 * * * *", kwargs={"scope": "nope:x"})
    with pytest.raises(Exception, match="scope"):
        schedule.validated_save()


def test_verify_job_records_the_drift_left_and_discover_job_records_the_cluster(
        k8s_cluster: Cluster, fresh_namespace: Any) -> None:
    tenant = factories.tenant(f"Chem {secrets.token_hex(3)}")
    ns = Namespace(cluster=k8s_cluster, name=f"v-{secrets.token_hex(4)}", tenant=tenant, pods=10)
    ns.validated_save()
    job = _run("k8s.verify", scope=f"cluster:{k8s_cluster.name}")
    assert job.status == "completed", job.error
    assert job.result["drift"] > 0 and job.result["namespaces"] == 1  # nothing applied yet: all of it is drift
    status = NamespaceStatus.objects.get(namespace=ns)
    assert status.drift_items == job.result["drift"] and status.error == ""
    assert any("LISTs" in line["message"] for line in job.log)

    fresh_namespace("seen")
    job = _run("k8s.discover", clusters=[k8s_cluster.name])
    assert job.status == "completed", job.error
    assert job.result[k8s_cluster.name]["namespaces"] >= 1
    assert Namespace.objects.filter(cluster=k8s_cluster, unmanaged=True).exists()


def test_jobs_fail_naming_a_cluster_they_cannot_reach(k8s_cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMDB_K8S_TEST_TOKEN", "wrong")
    ns = Namespace(cluster=k8s_cluster, name=f"f-{secrets.token_hex(4)}", tenant=factories.tenant("Bio"))
    ns.validated_save()
    job = _run("k8s.verify", scope=f"cluster:{k8s_cluster.name}")
    assert job.status == "failed" and f"cluster {k8s_cluster.name}" in job.error and "401" in job.error
    assert "401" in NamespaceStatus.objects.get(namespace=ns).error  # recorded for the metrics and alerts
    job = _run("k8s.discover", clusters=[k8s_cluster.name])
    assert job.status == "failed" and f"cluster {k8s_cluster.name}" in job.error
    assert not Node.objects.filter(cluster=k8s_cluster).exists()


def test_demo_step_records_the_desired_state_and_says_when_no_cluster_is_reachable(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("CMDB_K8S_TOKEN", raising=False)
    monkeypatch.delenv("CMDB_DEMO_K8S_URL", raising=False)
    tenant = factories.tenant("Studierendenservice")
    Service(name="Campus app", slug="campus-app", tenant=tenant, criticality="high").validated_save()
    Service(name="Moodle", slug="learning-platform", tenant=tenant).validated_save()

    result = demo.demo_step(1)

    assert result == {"cluster": demo.CLUSTER, "namespaces": 2, "reachable": False}
    err = capsys.readouterr().err
    assert "no cluster reachable" in err and "campus-k8s" in err and "CMDB_K8S_TOKEN" in err
    names = set(Namespace.objects.filter(cluster__name=demo.CLUSTER).values_list("name", flat=True))
    assert names == {"campus-app", "moodle"}
    app = Namespace.objects.get(name="campus-app")
    assert (app.requests_cpu, app.limits_memory, app.pods, app.tenant_id, app.criticality) == (
        "4", "16Gi", 40, tenant.pk, "high")
    statuses = NamespaceStatus.objects.filter(namespace__cluster__name=demo.CLUSTER)
    assert statuses.count() == 2 and all("campus-k8s" in s.error for s in statuses)
    schedules = {s.job_name: s for s in Schedule.objects.filter(job_name__startswith="k8s.")}
    assert set(schedules) == {"k8s.verify", "k8s.discover"}
    assert not any(s.enabled for s in schedules.values())  # no cluster URL given: left for an admin to enable

    assert demo.demo_step(1)["namespaces"] == 2  # idempotent
    assert Namespace.objects.filter(cluster__name=demo.CLUSTER).count() == 2
    assert Schedule.objects.filter(job_name__startswith="k8s.").count() == 2
