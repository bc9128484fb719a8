"""Web UI of the Kubernetes domain: clusters, namespaces (with their quota and access data), the role mapping
and contacts' cluster subjects get the standard pages (list, detail, edit, import, export) in a "Kubernetes"
menu group."""

from __future__ import annotations

from cmdb.ui.registry import register

from . import filtersets, models

register(models.Cluster, filterset=filtersets.ClusterFilterSet,
         columns=["name", "api_url", "served_version", "field_manager", "status", "tenant", "description"],
         form_fields=["name", "api_url", "ca_certificate", "credentials", "field_manager", "status", "tenant",
                      "criticality", "owner", "description", "comments"],
         group="Kubernetes")
register(models.Namespace, filterset=filtersets.NamespaceFilterSet,
         columns=["name", "cluster", "service", "tenant", "managed", "requests_cpu", "requests_memory", "limits_cpu",
                  "limits_memory", "pods", "pvcs", "storage"],
         form_fields=["cluster", "name", "service", "tenant", "managed", "requests_cpu", "requests_memory",
                      "limits_cpu", "limits_memory", "pods", "pvcs", "storage", "storage_classes", "default_cpu",
                      "default_memory", "default_request_cpu", "default_request_memory", "labels", "annotations",
                      "status", "criticality", "owner", "description", "comments"],
         group="Kubernetes")
register(models.RoleMapping, filterset=filtersets.RoleMappingFilterSet, columns=["contact_role", "cluster_role"],
         group="Kubernetes")
register(models.K8sSubject, filterset=filtersets.K8sSubjectFilterSet, columns=["name", "kind", "contact"],
         group="Kubernetes")
