"""The ``k8s`` reconciler driven by the reconcile framework against the real kube-apiserver: a dry run stores the
plan and changes nothing (the namespace's sync status included), applying the stored plan leaves no drift with
an outcome per item, delete items wait for the ``prune`` option, a conflict is a failed item naming the other
field manager, and a refused token fails the run naming the cluster."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from cmdb.reconcile.base import reconcilers
from cmdb.reconcile.models import ReconcileRun
from cmdb.reconcile.services import RunRefused, apply_request, run_execute, run_request
from cmdb.tenancy.models import Tenant
from k8s.models import Cluster, Namespace, NamespaceStatus

pytestmark = pytest.mark.django_db(transaction=True)


def test_registered_as_k8s_with_its_kind_and_prune_option() -> None:
    cls = reconcilers()["k8s"]
    assert cls.kinds == ("k8s.namespace",)
    assert [(o.name, o.type, o.default) for o in cls.options] == [("prune", bool, False)]


def _run(scope: str, *, dry_run: bool = True, **options: Any) -> ReconcileRun:
    return run_execute(run_request(reconciler="k8s", scope=scope, dry_run=dry_run, options=options, enqueue=False))


def _items(run: ReconcileRun) -> list[tuple[str, str, str, str]]:
    return [(i.operation, i.resource, i.outcome, i.message) for i in run.actions.order_by("index")]


def test_plan_apply_prune_and_conflicts_through_the_framework(k8s_cluster: Cluster, k8s_admin: Any,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = Tenant.objects.create(name=f"T {k8s_cluster.name}", slug=f"t-{k8s_cluster.name}")
    ns = Namespace(cluster=k8s_cluster, name=f"r-{k8s_cluster.name}", tenant=tenant, pods=10)
    ns.validated_save()
    unmanaged = Namespace(cluster=k8s_cluster, name=f"u-{k8s_cluster.name}", tenant=tenant, managed=False)
    unmanaged.validated_save()
    scope = f"tenant:{tenant.slug}"
    core = client.CoreV1Api(k8s_admin)

    dry = _run(scope)
    assert (dry.status, dry.error, dry.targets, dry.drift_count) == ("completed", "", 1, 4)  # unmanaged left out
    assert [i[:3] for i in _items(dry)][:2] == [("create", f"Namespace {ns.name}", "planned"),
                                                ("create", "ResourceQuota cmdb-quota", "planned")]
    assert '+ spec.hard.pods: "10"' in dry.actions.get(index=1).diff
    assert ns.name not in {n.metadata.name for n in core.list_namespace().items}  # a dry run changes nothing
    assert not NamespaceStatus.objects.exists()  # ... in the CMDB either (writeback rolled back)
    k8s_cluster.refresh_from_db()
    assert k8s_cluster.served_version == ""  # observing writes nothing, not even the discovered version

    applied = run_execute(apply_request(dry.plan, enqueue=False))
    assert (applied.status, applied.failed_count, applied.applied_count, applied.remaining_drift) == (
        "completed", 0, 4, 0), applied.error
    assert [(i[0], i[2], i[3]) for i in _items(applied)] == [("create", "ok", "created")] * 4
    assert applied.summary[f"{k8s_cluster.name}/{ns.name}"]["status"] == "ok"
    assert core.read_namespaced_resource_quota("cmdb-quota", ns.name).spec.hard == {"pods": "10"}
    status = NamespaceStatus.objects.get(namespace=ns)  # recorded by verify: nothing left
    assert (status.drift_items, status.conflicts, status.error) == (0, 0, "")
    k8s_cluster.refresh_from_db()
    assert k8s_cluster.served_version.startswith("v1.")

    # The quota is no longer wanted: a delete item, skipped unless the run prunes.
    ns.pods = None
    ns.validated_save()
    kept = _run(scope, dry_run=False)
    assert _items(kept) == [("delete", "ResourceQuota cmdb-quota", "skipped", "pruning is not enabled for this run")]
    assert (kept.status, kept.remaining_drift) == ("completed", 1)
    assert core.read_namespaced_resource_quota("cmdb-quota", ns.name)
    plan = _run(scope, prune=True).plan
    assert plan.options == {"prune": True}
    pruned = run_execute(apply_request(plan, enqueue=False))
    assert _items(pruned) == [("delete", "ResourceQuota cmdb-quota", "ok", "deleted")]
    assert pruned.remaining_drift == 0
    assert not core.list_namespaced_resource_quota(ns.name).items

    # Someone takes a field over by hand; the CMDB then wants another value: a conflict, never forced.
    ns.pods = 10
    ns.validated_save()
    _run(scope, dry_run=False)
    core.patch_namespaced_resource_quota("cmdb-quota", ns.name, {"spec": {"hard": {"pods": "50"}}},
                                         field_manager="kubectl-edit")
    ns.pods = 20
    ns.validated_save()
    conflicted = _run(scope, dry_run=False)
    ((operation, resource, outcome, message),) = _items(conflicted)
    assert (operation, resource, outcome) == ("conflict", "ResourceQuota cmdb-quota", "failed")
    assert '"kubectl-edit"' in message and ".spec.hard.pods" in message
    assert conflicted.status == "failed" and "kubectl-edit" in conflicted.summary[f"{k8s_cluster.name}/{ns.name}"][
        "message"]
    assert core.read_namespaced_resource_quota("cmdb-quota", ns.name).spec.hard["pods"] == "50"  # left alone

    monkeypatch.setenv("CMDB_K8S_TEST_TOKEN", "wrong")
    failed = _run(scope)
    # Recorded per target, not a traceback: the run's (its job's) error names the failed target.
    assert failed.status == "failed" and "Traceback" not in failed.error
    assert failed.error == f"1 of 1 targets failed or were unreachable: {k8s_cluster.name}/{ns.name}."
    outcome_of = failed.summary[f"{k8s_cluster.name}/{ns.name}"]
    assert outcome_of["status"] == "unreachable"
    assert k8s_cluster.name in outcome_of["message"] and "HTTP 401" in outcome_of["message"]


def test_the_old_scope_grammar_is_refused_and_the_scope_is_limited_to_namespaces(k8s_cluster: Cluster) -> None:
    with pytest.raises(RunRefused, match="Unknown scope term 'cluster:'"):
        run_request(reconciler="k8s", scope=f"cluster:{k8s_cluster.name}", enqueue=False)
    with pytest.raises(RunRefused, match="not managed by this reconciler"):
        run_request(reconciler="k8s", scope="kind:dcim.device", enqueue=False)
    with pytest.raises(RunRefused, match="prune: Give a bool"):
        run_request(reconciler="k8s", options={"prune": "yes"}, enqueue=False)
