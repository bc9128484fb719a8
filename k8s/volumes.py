"""The Kubernetes domain's answer to ``kubernetes_namespaces_requested`` (:mod:`cmdb.core.hooks`).

Another domain knows namespaces only as CIs (registry ids): the backup reconciler has a policy attached to
or inherited by some CIs and needs to know which of them are namespaces, on which cluster, and which
PersistentVolumeClaims they hold now, to render a CronJob that backs those volumes up.

The claims are read live, not from the CMDB (discovery records workloads, not claims): **one LIST of
``persistentvolumeclaims`` per cluster** (paged, :func:`k8s.inventory.list_all`), over the whole cluster
when more than one of its namespaces is asked for, else of that one namespace, never a request per
namespace.  A claim being deleted (``deletionTimestamp`` set) is left out; a claim not bound yet is listed
(its backup runs once it is bound, the pod waits for it).  A cluster that cannot be reached (no token, TLS,
down, forbidden) gives each of its namespaces an ``error`` naming the cluster, and no volumes.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import quote

from .models import Namespace


def claims(conn: Any, namespaces: list[str]) -> dict[str, list[str]]:
    """namespace → its PVC names (sorted), for ``namespaces``, with one (paged) LIST on ``conn``."""
    from .inventory import list_all

    path = ("/api/v1/persistentvolumeclaims" if len(namespaces) != 1
            else f"/api/v1/namespaces/{quote(namespaces[0])}/persistentvolumeclaims")
    wanted = set(namespaces)
    found: dict[str, list[str]] = {ns: [] for ns in namespaces}
    for obj in list_all(conn, path):
        meta = obj.get("metadata") or {}
        if meta.get("namespace") in wanted and not meta.get("deletionTimestamp"):
            found[meta["namespace"]].append(meta["name"])
    return {ns: sorted(names) for ns, names in found.items()}


def namespaces_of(ci_ids: list[int], user: Any = None) -> dict[int, dict[str, Any]]:
    """The hook's answer (see :data:`cmdb.core.hooks.kubernetes_namespaces_requested`)."""
    from . import sync

    found = Namespace.objects.filter(ci_id__in=list(ci_ids)).select_related("cluster")
    if user is not None:
        from cmdb.users.permissions import restrict

        found = restrict(found, user, "view")
    by_cluster: dict[int, list[Namespace]] = defaultdict(list)
    for ns in found.order_by("cluster__name", "name"):
        by_cluster[ns.cluster_id].append(ns)
    answer: dict[int, dict[str, Any]] = {}
    for rows in by_cluster.values():
        cluster = rows[0].cluster
        names = [ns.name for ns in rows]
        error, volumes = "", {}
        try:
            conn = sync.connect(cluster)
        except sync.ClusterError as exc:
            error = f"cluster {cluster.name}: {exc}"
        else:
            try:
                volumes = claims(conn, names)
            except sync._transport_errors() as exc:
                error = f"cluster {cluster.name} ({cluster.api_url}): {sync.describe_error(exc)}"
            finally:
                conn.close()
        for ns in rows:
            entry: dict[str, Any] = {"cluster": cluster.name, "namespace": ns.name, "volumes": volumes.get(ns.name, [])}
            if error:
                entry["error"] = error
            answer[ns.ci_id] = entry
    return answer


def namespaces_requested(sender: Any = None, **kwargs: Any) -> dict[int, dict[str, Any]]:
    """The receiver of ``kubernetes_namespaces_requested`` (connected in :mod:`k8s.receivers`)."""
    return namespaces_of([int(i) for i in kwargs.get("ci_ids") or ()], kwargs.get("user"))
