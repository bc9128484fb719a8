"""Kubernetes metrics for /metrics: per managed namespace its quota as the server reports it (hard and used),
the drift and conflicts the last verify left, when that was; per cluster the version it serves.

Two queries whatever the number of namespaces, scoped to the caller's tenants (:func:`restrict`).
Quantities are in base units (cores, bytes, counts), as Prometheus wants them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

from cmdb.users.permissions import restrict

from .models import Cluster, NamespaceStatus

LABELS = ["ci_id", "cluster", "namespace", "tenant", "service"]


def _quantity(value: Any) -> float | None:
    from kubernetes.utils import parse_quantity

    try:
        return float(parse_quantity(value))
    except (ValueError, TypeError):
        return None


def collect(user: Any = None) -> Iterable[Metric]:
    statuses = NamespaceStatus.objects.select_related("namespace__cluster", "namespace__tenant", "namespace__service")
    clusters = Cluster.objects.all()
    if user is not None:
        statuses, clusters = restrict(statuses, user), restrict(clusters, user)
    hard = GaugeMetricFamily("cmdb_k8s_namespace_quota_hard", "A managed namespace's ResourceQuota limit as the "
                             "server reports it (status.hard), in base units.", labels=[*LABELS, "resource"])
    used = GaugeMetricFamily("cmdb_k8s_namespace_quota_used", "A managed namespace's ResourceQuota usage as the "
                             "server reports it (status.used), in base units.", labels=[*LABELS, "resource"])
    drift = GaugeMetricFamily("cmdb_k8s_namespace_drift_items", "Objects of a managed namespace that still differ "
                              "from the CMDB after the last verify.", labels=LABELS)
    conflicts = GaugeMetricFamily("cmdb_k8s_namespace_conflict_items", "Objects of a managed namespace whose fields "
                                  "another field manager holds (not forced).", labels=LABELS)
    synced = GaugeMetricFamily("cmdb_k8s_namespace_last_sync_timestamp_seconds", "When the reconciler last verified "
                               "a managed namespace.", labels=LABELS)
    failing = GaugeMetricFamily("cmdb_k8s_namespace_sync_error", "1 when the last verify could not reach the "
                                "namespace's cluster.", labels=LABELS)
    for status in statuses.order_by("namespace_id"):
        ns = status.namespace
        labels = [str(ns.ci_id), ns.cluster.name, ns.name, ns.tenant.slug if ns.tenant_id else "",
                  ns.service.slug if ns.service_id else ""]
        for family, values in ((hard, status.quota_hard), (used, status.quota_used)):
            for resource, quantity in sorted((values or {}).items()):
                number = _quantity(quantity)
                if number is not None:
                    family.add_metric([*labels, resource], number)
        drift.add_metric(labels, status.drift_items)
        conflicts.add_metric(labels, status.conflicts)
        synced.add_metric(labels, status.last_sync.timestamp())
        failing.add_metric(labels, 1 if status.error else 0)
    yield from (hard, used, drift, conflicts, synced, failing)
    info = GaugeMetricFamily("cmdb_k8s_cluster_info", "A registered Kubernetes cluster and the version it serves.",
                             labels=["ci_id", "cluster", "served_version"])
    for ci_id, name, version in clusters.order_by("name").values_list("ci_id", "name", "served_version"):
        info.add_metric([str(ci_id), name, version], 1)
    yield info
