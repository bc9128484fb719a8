"""KubeVirt pools handed to the Kubernetes domain through the hook ``kubevirt_objects_published``.

The contract without a server (nobody answering, an unknown cluster), and the whole path against the real
kube-apiserver with the KubeVirt CRDs registered: the vdi reconciler's dry run is the server's dry run of the
pool's objects, its apply goes through the k8s domain (its cluster CI, credentials and field manager), a
second plan is empty, a scale is an update, a change of pool type deletes the old objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cmdb.core import hooks
from tests import reconcile_runs
from tests.k8s.conftest import (  # noqa: F401 - the API server fixtures
    apiserver_binaries,
    fresh_namespace,
    k8s_admin,
    k8s_cluster,
    k8s_dynamic,
    kube_apiserver,
)
from tests.reconcile_runs import apply
from vdi.drivers import kubevirt

from .conftest import make_pool
from .test_kubevirt import kubevirt_crds  # noqa: F401 - registers the CRDs with the test server

pytestmark = pytest.mark.django_db


def dry_run(scope: str) -> Any:
    return reconcile_runs.dry_run("vdi", scope)


@pytest.fixture
def no_k8s_domain() -> Iterator[None]:
    """The hook as it is when the k8s app is not installed: nobody connected."""
    from k8s.kubevirt import objects_published

    assert hooks.kubevirt_objects_published.disconnect(dispatch_uid="k8s.kubevirt")
    try:
        yield
    finally:
        hooks.kubevirt_objects_published.connect(objects_published, dispatch_uid="k8s.kubevirt")


def test_without_the_kubernetes_domain_a_kubevirt_pool_is_reported_not_provisioned(vdi_world, no_k8s_domain):
    pool = make_pool(vdi_world, "kv", driver="kubevirt", min_size=2)
    result = kubevirt.handoff(pool)
    assert (result.error, result.items) == (kubevirt.NO_ANSWER, [])
    run = dry_run("name:kv")
    assert (run.status, run.failed_count) == ("failed", 1), (run.error, run.summary)
    assert run.summary["kv"]["status"] == "failed" and kubevirt.NO_ANSWER in run.summary["kv"]["message"]


def test_the_hook_contract_an_unknown_cluster_is_an_error_naming_it(vdi_world):
    pool = make_pool(vdi_world, "kv", driver="kubevirt", kube_cluster="nowhere", min_size=1)
    answers = [a for _r, a in hooks.kubevirt_objects_published.send(
        sender=None, cluster="nowhere", owner="vdi-pool-kv", objects=kubevirt.desired(pool), kinds=kubevirt.KINDS,
        apply=False, only=None, user=None)]
    assert answers == [{"error": "no Kubernetes cluster 'nowhere' in the CMDB that you may view", "items": []}]


def test_the_desired_objects_follow_the_pool(vdi_world):
    from vdi.models import Desktop

    pooled = make_pool(vdi_world, "kv", driver="kubevirt", min_size=0, spare=3, kube_namespace="labs")
    (obj,) = kubevirt.desired(pooled)
    assert (obj["kind"], obj["metadata"]["namespace"], obj["spec"]["replicas"]) == ("VirtualMachinePool", "labs", 3)
    thesis = make_pool(vdi_world, "thesis", driver="kubevirt", pool_type="persistent", spare=2)
    user = __import__("django.contrib.auth", fromlist=["get_user_model"]).get_user_model().objects.create_user("b")
    Desktop(name="thesis-004", pool=thesis, state="assigned", assigned_user=user).validated_save()
    # One assigned desktop keeps its name; two spare ones take the lowest free numbers.
    assert [o["metadata"]["name"] for o in kubevirt.desired(thesis)] == ["thesis-001", "thesis-002", "thesis-004"]


def test_a_kubevirt_pool_is_planned_and_applied_by_the_kubernetes_domain(vdi_world, k8s_cluster,  # noqa: F811
                                                                         kubevirt_crds, k8s_dynamic,  # noqa: F811
                                                                         fresh_namespace):  # noqa: F811
    ns = fresh_namespace("vdi")
    pool = make_pool(vdi_world, "kv", driver="kubevirt", kube_cluster=k8s_cluster.name, kube_namespace=ns, spare=2)
    dry = dry_run("name:kv")
    assert (dry.status, dry.error, dry.drift_count) == ("completed", "", 1), dry.summary
    (item,) = dry.plan.items.all()
    assert (item.operation, item.target, item.resource, item.ci_id) == (
        "create", "kv", f"VirtualMachinePool {ns}/kv", pool.ci_id)
    assert "+ spec.replicas: 2" in item.diff
    pools = k8s_dynamic.resources.get(api_version="pool.kubevirt.io/v1alpha1", kind="VirtualMachinePool")
    assert pools.get(namespace=ns).items == []  # a dry run

    done = apply(dry.plan)
    assert (done.status, done.applied_count, done.remaining_drift) == ("completed", 1, 0), done.error
    assert [(i.outcome, i.message) for i in done.plan.items.all()] == [("ok", "created")]
    live = pools.get(name="kv", namespace=ns)
    assert live.spec.replicas == 2
    assert live.metadata.labels["app.kubernetes.io/managed-by"] == k8s_cluster.field_manager
    assert live.metadata.labels["cmdb/owner-set"] == "vdi-pool-kv"
    assert dry_run("name:kv").drift_count == 0  # nothing left to do

    pool.spare = 4
    pool.validated_save()
    scale = dry_run("name:kv")
    (item,) = scale.plan.items.all()
    assert item.operation == "update" and "~ spec.replicas: 2 → 4" in item.diff
    assert apply(scale.plan).applied_count == 1 and pools.get(name="kv", namespace=ns).spec.replicas == 4

    # A persistent pool is one VirtualMachine per desktop: the VirtualMachinePool of the pooled one goes.
    pool.pool_type = "persistent"
    pool.spare = 2
    pool.validated_save()
    change = dry_run("name:kv")
    assert sorted((i.operation, i.resource) for i in change.plan.items.all()) == [
        ("create", f"VirtualMachine {ns}/kv-001"), ("create", f"VirtualMachine {ns}/kv-002"),
        ("delete", f"VirtualMachinePool {ns}/kv")]
    done = apply(change.plan)
    assert (done.applied_count, done.remaining_drift) == (3, 0), done.error
    vms = k8s_dynamic.resources.get(api_version="kubevirt.io/v1", kind="VirtualMachine")
    assert sorted(v.metadata.name for v in vms.get(namespace=ns).items) == ["kv-001", "kv-002"]
    assert pools.get(namespace=ns).items == []


def test_a_cluster_without_kubevirt_is_a_failed_pool_naming_the_missing_kind(vdi_world, k8s_cluster,  # noqa: F811
                                                                            fresh_namespace):  # noqa: F811
    from cmdb.core.hooks import kubevirt_objects_published

    ns = fresh_namespace("vdi")
    pool = make_pool(vdi_world, "kv", driver="kubevirt", kube_cluster=k8s_cluster.name, kube_namespace=ns, spare=1)
    objects = [{**o, "apiVersion": "example.invalid/v1"} for o in kubevirt.desired(pool)]
    (answer,) = [a for _r, a in kubevirt_objects_published.send(
        sender=None, cluster=k8s_cluster.name, owner="x", objects=objects, kinds=[], apply=False, only=None,
        user=None)]
    assert answer["error"] == ""
    assert [(i["action"], i["status"]) for i in answer["items"]] == [("error", "failed")]
    assert "does not serve example.invalid/v1 VirtualMachinePool" in answer["items"][0]["message"]


def test_the_kubernetes_domain_plans_only_for_who_may_view_and_applies_only_for_who_may_change(
        vdi_world, monkeypatch):
    """Checked on the cluster CI before anything is sent to a server (here there is none to reach)."""
    from django.contrib.auth import get_user_model

    from cmdb.users.models import ObjectPermission
    from k8s.models import Cluster

    monkeypatch.setenv("CMDB_K8S_NONE_TOKEN", "x")
    Cluster(name="campus", api_url="https://127.0.0.1:1", credentials="env:CMDB_K8S_NONE_TOKEN").validated_save()
    pool = make_pool(vdi_world, "kv", driver="kubevirt", kube_cluster="campus", min_size=1)
    user = get_user_model().objects.create_user("viewer")
    assert kubevirt.handoff(pool, user=user).error == "no Kubernetes cluster 'campus' in the CMDB that you may view"
    grant = ObjectPermission(name="k8s view", object_types=["k8s.cluster"], actions=["view"])
    grant.save()
    grant.users.add(user)
    user = get_user_model().objects.get(pk=user.pk)  # permissions are cached per user object
    planned = kubevirt.handoff(pool, user=user)
    assert planned.error.startswith("cluster campus (https://127.0.0.1:1): ")  # allowed: the server is not there
    applied = kubevirt.handoff(pool, apply=True, user=user)
    assert applied.error == "no Kubernetes cluster 'campus' in the CMDB that you may change"


def test_the_kubernetes_reconciler_neither_lists_nor_prunes_the_handed_over_objects(
        vdi_world, k8s_cluster, kubevirt_crds, k8s_dynamic):  # noqa: F811
    """Both reconcilers write with the cluster's field manager and its managed-by label; the k8s reconciler's
    own runs list only its kinds (Namespace, ResourceQuota, LimitRange, RoleBinding, NetworkPolicy), so a
    pruning run of the k8s domain over the whole cluster leaves the vdi domain's KubeVirt objects alone, and
    neither reconciler's next plan sees anything to do after the other applied."""
    import secrets

    from k8s import sync
    from k8s.models import Namespace
    from tests import factories

    name = f"vdi-{secrets.token_hex(4)}"
    Namespace(cluster=k8s_cluster, name=name, tenant=factories.tenant(f"VDI {name}"), pods=50).validated_save()
    first = sync.plan(scope=f"cluster:{k8s_cluster.name}")
    assert not any(p.error for p in first), [p.error for p in first]
    assert all(o.status == "ok" for o in sync.apply_plan(first, prune=True))

    make_pool(vdi_world, "kv", driver="kubevirt", kube_cluster=k8s_cluster.name, kube_namespace=name, spare=2)
    done = apply(dry_run("name:kv").plan)
    assert (done.status, done.applied_count) == ("completed", 1), done.error
    pools = k8s_dynamic.resources.get(api_version="pool.kubevirt.io/v1alpha1", kind="VirtualMachinePool")
    live = pools.get(name="kv", namespace=name)
    assert live.metadata.labels["app.kubernetes.io/managed-by"] == k8s_cluster.field_manager  # the same label

    # The k8s reconciler's plan over the whole cluster: nothing to do, the KubeVirt kinds not even listed.
    again = sync.plan(scope=f"cluster:{k8s_cluster.name}")
    (cluster_plan,) = again
    assert cluster_plan.error == "" and cluster_plan.changes == [], [(i.action, i.kind) for i in cluster_plan.items]
    assert cluster_plan.calls["list"] == len(sync.KINDS)
    assert sync.apply_plan(again, prune=True) == []
    assert pools.get(name="kv", namespace=name).spec.replicas == 2  # still there, untouched
    assert dry_run("name:kv").drift_count == 0  # and the vdi reconciler has nothing to redo

    # The CMDB's namespace edit (a quota raised) changes only the quota; the pool stays.
    Namespace.objects.filter(cluster=k8s_cluster, name=name).update(pods=60)
    change = sync.plan(scope=f"cluster:{k8s_cluster.name}")
    assert [(i.action, i.kind) for i in change[0].changes] == [("update", "ResourceQuota")]
    assert all(o.status == "ok" for o in sync.apply_plan(change, prune=True))
    assert pools.get(name="kv", namespace=name).metadata.uid == live.metadata.uid


def test_a_namespace_holding_a_pools_desktops_is_not_pruned(vdi_world, k8s_cluster, kubevirt_crds,  # noqa: F811
                                                             k8s_dynamic, k8s_admin):  # noqa: F811
    """Deleting a namespace deletes what is in it: while a KubeVirt pool's objects are there, the k8s
    reconciler's prune of the namespace is a failed item naming them (its other objects are pruned)."""
    import secrets

    from kubernetes import client

    from k8s import sync
    from k8s.models import Namespace
    from tests import factories

    name = f"vdi-{secrets.token_hex(4)}"
    Namespace(cluster=k8s_cluster, name=name, tenant=factories.tenant(f"VDI {name}"), pods=50).validated_save()
    assert all(o.status == "ok" for o in sync.apply_plan(sync.plan(scope=f"cluster:{k8s_cluster.name}")))
    make_pool(vdi_world, "kv", driver="kubevirt", kube_cluster=k8s_cluster.name, kube_namespace=name, spare=2)
    assert apply(dry_run("name:kv").plan).applied_count == 1

    Namespace.objects.filter(cluster=k8s_cluster, name=name).update(managed=False)  # no longer wanted
    (cluster_plan,) = [p for p in sync.plan() if p.cluster == k8s_cluster.name]
    items = {(i.action, i.kind): i for i in cluster_plan.items}
    # The namespace's own objects are pruned (its quota, its network policies); the namespace is refused.
    assert set(items) == {("error", "Namespace"), ("delete", "ResourceQuota"), ("delete", "NetworkPolicy")}
    assert items[("error", "Namespace")].error == (
        "not pruned: it holds objects another domain manages (VirtualMachinePool kv (vdi-pool-kv)); "
        "remove them through their owner (e.g. the VDI pool) first")
    outcomes = {o.target: o for o in sync.apply_plan([cluster_plan], prune=True)}
    assert outcomes[f"Namespace {name}"].status == "failed"
    others = [o.status for t, o in outcomes.items() if not t.startswith("Namespace ")]
    assert len(others) == len(cluster_plan.items) - 1 and set(others) == {"ok"}
    live = client.CoreV1Api(k8s_admin).read_namespace(name)
    assert live.metadata.deletion_timestamp is None
    pools = k8s_dynamic.resources.get(api_version="pool.kubevirt.io/v1alpha1", kind="VirtualMachinePool")
    assert pools.get(name="kv", namespace=name).spec.replicas == 2

    # Without the pool's objects the namespace is pruned as before.
    pools.delete(name="kv", namespace=name)
    (cluster_plan,) = [p for p in sync.plan() if p.cluster == k8s_cluster.name]
    assert [(i.action, i.kind) for i in cluster_plan.items] == [("delete", "Namespace")]
