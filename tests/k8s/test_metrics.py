"""Metrics of what Kubernetes discovery recorded (k8s/metrics.py): nodes per cluster, linked or not and stale or
not; workloads per namespace and kind, stale or not; the unmanaged namespaces one by one.  Recorded through
discovery's own write path (``inventory.record``) from synthetic listings, so no API server is needed; the
collector's query count does not grow with the rows, and a user of another tenant sees none of them.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from k8s import inventory
from k8s.metrics import collect
from k8s.models import Cluster
from tests import factories
from tests.security.conftest import fresh, grant

pytestmark = pytest.mark.django_db

NODE = {"system_uuid": "", "kubelet_version": "v1.20.2", "os_image": "Debian 12", "kernel_version": "6.1",
        "container_runtime": "containerd://1.6", "architecture": "amd64", "cpu": "8", "memory": "32Gi",
        "max_pods": 110, "ready": True}


def _cluster(prefix: str, tenant: Any = None) -> Cluster:
    cluster = Cluster(name=f"{prefix}-{secrets.token_hex(3)}", api_url="https://127.0.0.1:1",
                      credentials="env:CMDB_K8S_NONE", tenant=tenant)
    cluster.validated_save()
    return cluster


def _listing(cluster: Cluster, n: int) -> inventory.Listing:
    """n nodes (the first named like a recorded VM), namespace "apps" with n Deployments and a CronJob."""
    nodes = {f"{cluster.name}-node-{i}": dict(NODE) for i in range(n)}
    workloads: dict[tuple[str, str, str], dict[str, Any]] = {
        ("apps", "Deployment", f"web-{i}"): {"replicas": 1, "ready": 1, "images": ["nginx:1.25"]} for i in range(n)}
    workloads[("apps", "CronJob", "report")] = {"replicas": None, "ready": 0, "images": ["busybox:1.36"]}
    return inventory.Listing(nodes, {"apps", "kube-system", "scratch"}, workloads)


def _samples(families: dict[str, Any], name: str, **match: str) -> dict[tuple[str, ...], float]:
    """label values (in the family's order, without the matched ones) → value, of the samples matching."""
    out = {}
    for sample in families[name].samples:
        if all(sample.labels.get(k) == v for k, v in match.items()):
            out[tuple(v for k, v in sample.labels.items() if k not in match)] = sample.value
    return out


def test_discovered_nodes_workloads_and_unmanaged_namespaces_are_counted() -> None:
    cluster = _cluster("m")
    factories.vm(f"{cluster.name}-node-0")
    start = timezone.now()
    inventory.record(cluster, _listing(cluster, 3), now=start)
    # Later, node 2 and web-1 are gone for longer than the grace: stale.
    later = _listing(cluster, 3)
    del later.nodes[f"{cluster.name}-node-2"], later.workloads[("apps", "Deployment", "web-1")]
    inventory.record(cluster, later, now=start + inventory.stale_after() + dt.timedelta(minutes=1))

    families = {family.name: family for family in collect()}
    assert _samples(families, "cmdb_k8s_cluster_nodes", cluster=cluster.name) == {
        ("true", "false"): 1, ("false", "false"): 1, ("true", "true"): 0, ("false", "true"): 1}
    apps = _samples(families, "cmdb_k8s_namespace_workloads", cluster=cluster.name, namespace="apps")
    ns_ci = {key[0] for key in apps}
    assert len(ns_ci) == 1 and next(iter(ns_ci)).isdigit()
    assert {key[1:]: value for key, value in apps.items()} == {
        ("CronJob", "false"): 1, ("CronJob", "true"): 0, ("Deployment", "false"): 2, ("Deployment", "true"): 1}
    orphans = _samples(families, "cmdb_k8s_unmanaged_namespace", cluster=cluster.name)
    assert sorted(key[1] for key in orphans) == ["apps", "kube-system", "scratch"]
    assert set(orphans.values()) == {1}


def test_the_collector_costs_the_same_queries_for_3_or_30_objects() -> None:
    counts = []
    for n in (3, 30):
        cluster = _cluster(f"q{n}")
        inventory.record(cluster, _listing(cluster, n))
        with CaptureQueriesContext(connection) as queries:
            families = list(collect())
        counts.append(len(queries))
        nodes = next(f for f in families if f.name == "cmdb_k8s_cluster_nodes")
        assert sum(s.value for s in nodes.samples if s.labels["cluster"] == cluster.name) == n
    assert counts[0] == counts[1], counts


def test_a_user_sees_only_the_discovered_objects_of_their_tenant(make_user: Any) -> None:
    mine, other = factories.tenant(f"Mine {secrets.token_hex(3)}"), factories.tenant(f"Other {secrets.token_hex(3)}")
    visible, hidden = _cluster("mine", mine), _cluster("theirs", other)
    for cluster in (visible, hidden):
        inventory.record(cluster, _listing(cluster, 2))
    alice = make_user(f"alice-{secrets.token_hex(3)}")
    grant(name=f"alice-{secrets.token_hex(3)}", types=["k8s.node", "k8s.workload", "k8s.namespace"],
          actions=["view"], users=[alice], tenants=[mine])
    families = {family.name: family for family in collect(user=fresh(alice))}
    for name in ("cmdb_k8s_cluster_nodes", "cmdb_k8s_namespace_workloads", "cmdb_k8s_unmanaged_namespace"):
        clusters = {s.labels["cluster"] for s in families[name].samples}
        assert clusters == {visible.name}, (name, clusters)
