"""The ``k8s`` reconciler driven by the reconcile framework against the real kube-apiserver: a dry run stores the
plan and changes nothing, an apply leaves no drift, a refused token fails the run naming the cluster."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from cmdb.reconcile.base import reconcilers
from cmdb.reconcile.models import ReconcileAction, ReconcileRun
from cmdb.reconcile.services import run_execute
from cmdb.tenancy.models import Tenant
from k8s.models import Cluster, Namespace

pytestmark = pytest.mark.django_db(transaction=True)


def test_registered_as_k8s() -> None:
    assert "k8s" in reconcilers()


def test_dry_run_then_apply_through_the_framework(k8s_cluster: Cluster, k8s_admin: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = Tenant.objects.create(name=f"T {k8s_cluster.name}", slug=f"t-{k8s_cluster.name}")
    ns = Namespace(cluster=k8s_cluster, name=f"r-{k8s_cluster.name}", tenant=tenant, pods=10)
    ns.validated_save()
    scope = f"cluster:{k8s_cluster.name}"

    dry = run_execute(ReconcileRun.objects.create(reconciler="k8s", scope=scope, dry_run=True))
    assert (dry.status, dry.error, dry.targets, dry.drift_count) == ("completed", "", 1, 4)
    stored = ReconcileAction.objects.filter(run=dry).order_by("index")
    assert [(a.operation, a.resource) for a in stored][:2] == [("create", f"Namespace {ns.name}"),
                                                               ("create", "ResourceQuota cmdb-quota")]
    assert '+ spec.hard.pods: "10"' in stored[1].diff
    names = {n.metadata.name for n in client.CoreV1Api(k8s_admin).list_namespace().items}
    assert ns.name not in names  # a dry run changes nothing

    applied = run_execute(ReconcileRun.objects.create(reconciler="k8s", scope=scope, dry_run=False))
    assert (applied.status, applied.failed_count, applied.remaining_drift) == ("completed", 0, 0), applied.summary
    assert applied.summary[f"{k8s_cluster.name}/{ns.name}"]["status"] == "ok"
    assert client.CoreV1Api(k8s_admin).read_namespaced_resource_quota("cmdb-quota", ns.name).spec.hard == {
        "pods": "10"}

    monkeypatch.setenv("CMDB_K8S_TEST_TOKEN", "wrong")
    failed = run_execute(ReconcileRun.objects.create(reconciler="k8s", scope=scope, dry_run=True))
    assert failed.status == "failed" and failed.error == ""  # recorded per target, not a traceback
    outcome = failed.summary[f"{k8s_cluster.name}/{ns.name}"]
    assert outcome["status"] == "unreachable"
    assert k8s_cluster.name in outcome["message"] and "HTTP 401" in outcome["message"]
