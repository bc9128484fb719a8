"""Web-UI pages for clusters, virtual machines and their interfaces."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from cmdb.ui.registry import CI_COLUMNS, RelatedTable, register

from . import filtersets, models


def _own_ips(obj: Any, qs: QuerySet) -> QuerySet:
    """A VM's primary IP is one of the addresses on its own interfaces."""
    if obj is None or obj.pk is None:
        return qs.none()
    return qs.filter(vminterface__virtual_machine=obj)


register(models.ClusterType, filterset=filtersets.ClusterTypeFilterSet, group="Virtualization",
         columns=["name", "slug", "description"])
register(models.ClusterGroup, filterset=filtersets.ClusterGroupFilterSet, group="Virtualization",
         columns=["name", "slug", "description"])
register(models.Cluster, filterset=filtersets.ClusterFilterSet, group="Virtualization",
         columns=["name", "type", "group", "site", *CI_COLUMNS],
         related=[RelatedTable("Hosts", "dcim.device", "cluster", ("name", "status", "rack", "role"), "cluster_id"),
                  RelatedTable("Virtual machines", "virtualization.virtualmachine", "cluster",
                               ("name", "status", "tenant", "vcpus", "memory", "primary_ip4"), "cluster_id",
                               limit=100)])
register(models.VirtualMachine, filterset=filtersets.VirtualMachineFilterSet, group="Virtualization",
         columns=["name", "status", "tenant", "site", "cluster", "device", "role", "platform", "vcpus",
                  "memory", "disk", "primary_ip4", "serial", "criticality", "owner", "last_seen", "tags"],
         default_columns=["name", "status", "tenant", "cluster", "role", "vcpus", "memory", "primary_ip4",
                          "tags"],
         list_filters=["status", "site", "cluster", "role", "platform", "tenant", "criticality"],
         dependent={"cluster": ("site", "site_id")},
         form_querysets={"primary_ip4": _own_ips, "primary_ip6": _own_ips},
         form_fields=["name", "site", "cluster", "device", "role", "platform", "serial", "vcpus", "memory",
                      "disk", "status", "tenant", "criticality", "owner", "primary_ip4", "primary_ip6",
                      "description", "comments", "tags"],
         import_fields=["name", "site", "cluster", "device", "role", "platform", "serial", "vcpus", "memory",
                        "disk", "status", "tenant", "criticality", "owner", "description", "comments", "tags"],
         related=[RelatedTable("Interfaces", "virtualization.vminterface", "virtual_machine",
                               ("name", "enabled", "mac_address", "mtu"), "virtual_machine_id"),
                  RelatedTable("IP addresses", "ipam.ipaddress", "vminterface__virtual_machine",
                               ("address", "vminterface", "status", "dns_name"), "virtual_machine_id")])
register(models.VMInterface, filterset=filtersets.VMInterfaceFilterSet, group="Virtualization",
         columns=["virtual_machine", "name", "enabled", "mac_address", "mtu", "tags"],
         list_filters=["enabled"],
         related=[RelatedTable("IP addresses", "ipam.ipaddress", "vminterface", ("address", "status"),
                               "vminterface_id")])
