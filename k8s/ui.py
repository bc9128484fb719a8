"""Web UI of the Kubernetes domain: clusters, namespaces (with their quota and access data), discovered nodes
and workloads, the role mapping
and contacts' cluster subjects get the standard pages (list, detail, edit, import, export) in a "Kubernetes"
menu group; a panel on a service's page shows its namespaces with quota, access and sync status."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from cmdb.ui.registry import object_url, register, register_panel
from cmdb.users.permissions import restrict

from . import filtersets, models

register(models.Cluster, filterset=filtersets.ClusterFilterSet,
         columns=["name", "api_url", "served_version", "field_manager", "status", "tenant", "description"],
         form_fields=["name", "api_url", "ca_certificate", "credentials", "field_manager", "status", "tenant",
                      "criticality", "owner", "description", "comments"],
         group="Kubernetes")
register(models.Namespace, filterset=filtersets.NamespaceFilterSet,
         columns=["name", "cluster", "service", "tenant", "managed", "unmanaged", "stale", "requests_cpu",
                  "requests_memory", "limits_cpu",
                  "limits_memory", "pods", "pvcs", "storage"],
         form_fields=["cluster", "name", "service", "tenant", "managed", "requests_cpu", "requests_memory",
                      "limits_cpu", "limits_memory", "pods", "pvcs", "storage", "storage_classes", "default_cpu",
                      "default_memory", "default_request_cpu", "default_request_memory", "labels", "annotations",
                      "status", "criticality", "owner", "description", "comments"],
         group="Kubernetes")
register(models.Node, filterset=filtersets.NodeFilterSet,
         columns=["name", "cluster", "kubelet_version", "os_image", "cpu", "memory", "ready", "device",
                  "virtual_machine", "link_rule", "stale", "last_seen"],
         form_fields=["device", "virtual_machine", "link_rule", "status", "tenant", "criticality", "owner",
                      "description", "comments"],
         group="Kubernetes")
register(models.Workload, filterset=filtersets.WorkloadFilterSet,
         columns=["name", "kind", "namespace", "cluster", "replicas", "ready", "images", "stale", "last_seen"],
         form_fields=["status", "tenant", "criticality", "owner", "description", "comments"],
         group="Kubernetes")
register(models.RoleMapping, filterset=filtersets.RoleMappingFilterSet, columns=["contact_role", "cluster_role"],
         group="Kubernetes")
register(models.K8sSubject, filterset=filtersets.K8sSubjectFilterSet, columns=["name", "kind", "contact"],
         group="Kubernetes")


def namespaces_panel(request: Any, obj: Any) -> str | None:
    """On a service's page (and a namespace's own): its managed namespaces with their quota, who gets which
    ClusterRole there (derived as the reconciler derives it) and the last sync.  Only namespaces the user may
    view; a fixed number of queries whatever their count."""
    from .desired import desired_objects

    if isinstance(obj, models.Namespace):
        query = models.Namespace.objects.filter(pk=obj.pk)
    else:
        query = models.Namespace.objects.filter(service_id=obj.pk)
    namespaces = list(restrict(query, request.user, "view").select_related(
        "cluster", "service", "tenant", "owner", "service__owner", "sync_status").order_by("cluster__name", "name"))
    if not namespaces:
        return None
    access: dict[int, list[str]] = {}
    for objects in desired_objects([ns for ns in namespaces if ns.managed]).values():
        for desired in objects:
            if desired.kind == "RoleBinding":
                subjects = ", ".join(f"{s['kind']} {s['name']}" for s in desired.body["subjects"])
                access.setdefault(desired.ci_id or 0, []).append(f"{desired.body['roleRef']['name']}: {subjects}")
    rows = []
    for ns in namespaces:
        quota = [f"{label} {value}" for label, value in (
            ("requests.cpu", ns.requests_cpu), ("requests.memory", ns.requests_memory), ("limits.cpu", ns.limits_cpu),
            ("limits.memory", ns.limits_memory), ("pods", ns.pods), ("pvcs", ns.pvcs), ("storage", ns.storage))
            if value not in ("", None)]
        status = getattr(ns, "sync_status", None)
        rows.append({"ns": ns, "url": object_url(models.Namespace, ns.pk), "quota": ", ".join(quota) or "none",
                     "access": access.get(ns.ci_id or 0, []), "status": status})
    return render_to_string("k8s/namespaces_panel.html", {"rows": rows}, request=request)


register_panel("services.service", namespaces_panel)
register_panel("k8s.namespace", namespaces_panel)
