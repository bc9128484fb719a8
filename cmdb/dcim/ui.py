"""UI declarations for the core apps: tenancy, dcim, ipam, virtualization, extras, core."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from .registry import RelatedTable, register, register_panel

CI_COLUMNS = ["status", "tenant", "criticality", "owner", "last_seen", "tags"]


def _own_ips(obj: Any, qs: QuerySet) -> QuerySet:
    """A device's primary IP is one of the addresses on its own interfaces."""
    if obj is None or obj.pk is None:
        return qs.none()
    path = "interface__device" if obj._meta.model_name == "device" else "vminterface__virtual_machine"
    return qs.filter(**{path: obj})


def _own_vm_ips(obj: Any, qs: QuerySet) -> QuerySet:
    return _own_ips(obj, qs)


def typed_object_panel(request: Any, ci: Any) -> str | None:
    """On a CI registry row's page: a link to the typed object (device, VM, ...) it stands for."""
    from django.apps import apps
    from django.utils.html import format_html

    from .registry import object_url

    try:
        model = apps.get_model(ci.kind)
    except (LookupError, ValueError):
        return None
    pk = model._default_manager.filter(ci_id=ci.pk).values_list("pk", flat=True).first()
    url = object_url(model, pk) if pk is not None else None
    if url is None:
        return None
    return format_html('<section class="card"><h2>Typed object</h2><p><a href="{}">{} {}</a></p></section>',
                       url, model._meta.verbose_name, ci.name)


def register_all() -> None:
    from cmdb.core import filtersets as core_fs
    from cmdb.core.models import ConfigurationItem, ObjectChange
    from cmdb.dcim import filtersets as dcim_fs
    from cmdb.dcim import models as dcim
    from cmdb.extras import filtersets as extras_fs
    from cmdb.extras import models as extras
    from cmdb.ipam import filtersets as ipam_fs
    from cmdb.ipam import models as ipam
    from cmdb.tenancy import filtersets as tenancy_fs
    from cmdb.tenancy import models as tenancy
    from cmdb.virtualization import filtersets as virt_fs
    from cmdb.virtualization import models as virt

    org = "Organization"
    register(tenancy.TenantGroup, filterset=tenancy_fs.TenantGroupFilterSet, group=org,
             columns=["name", "slug", "parent", "description"])
    register(tenancy.Tenant, filterset=tenancy_fs.TenantFilterSet, group=org,
             columns=["name", "slug", "group", "description", "tags"],
             related=[RelatedTable("Sites", "dcim.site", "tenant", ("name", "status"), "tenant_id"),
                      RelatedTable("Contacts", "tenancy.contact", "tenant", ("name", "title", "email"), "tenant_id")])
    register(tenancy.ContactRole, filterset=tenancy_fs.ContactRoleFilterSet, group=org,
             columns=["name", "slug", "description"])
    register(tenancy.Contact, filterset=tenancy_fs.ContactFilterSet, group=org,
             columns=["name", "title", "phone", "email", "tenant", "tags"])
    register(tenancy.ContactAssignment, filterset=tenancy_fs.ContactAssignmentFilterSet, group=org,
             columns=["id", "contact", "role", "object_type", "object_id", "priority"],
             form_fields=["object_type", "object_id", "contact", "role", "priority"])

    register(dcim.Site, filterset=dcim_fs.SiteFilterSet, group=org,
             columns=["name", "slug", "status", "tenant", "facility", "time_zone", "description", "tags"],
             related=[RelatedTable("Locations", "dcim.location", "site", ("name", "parent", "status"), "site_id"),
                      RelatedTable("Racks", "dcim.rack", "site", ("name", "location", "status", "u_height"),
                                   "site_id")])
    register(dcim.Location, filterset=dcim_fs.LocationFilterSet, group=org,
             columns=["name", "site", "parent", "status", "tenant", "facility", "tags"],
             dependent={"parent": ("site", "site_id")},
             related=[RelatedTable("Racks", "dcim.rack", "location", ("name", "status", "u_height"), "location_id")])
    register(dcim.Rack, filterset=dcim_fs.RackFilterSet, group="Devices",
             columns=["name", "site", "location", "u_height", "serial", "asset_tag", *CI_COLUMNS],
             default_columns=["name", "site", "location", "u_height", "status", "tenant", "tags"],
             dependent={"location": ("site", "site_id")}, rack_elevation=True,
             related=[RelatedTable("Devices", "dcim.device", "rack",
                                   ("name", "role", "device_type", "position", "face", "status"), "rack_id",
                                   limit=100)])
    register(dcim.Device, filterset=dcim_fs.DeviceFilterSet, group="Devices",
             columns=["name", "status", "tenant", "site", "location", "rack", "position", "role", "device_type",
                      "manufacturer", "platform", "serial", "asset_tag", "cluster", "primary_ip4", "criticality",
                      "owner", "last_seen", "purchase_date", "warranty_end", "tags"],
             default_columns=["name", "status", "tenant", "site", "rack", "role", "device_type", "serial",
                              "primary_ip4", "tags"],
             form_fields=["name", "device_type", "role", "platform", "serial", "asset_tag", "site", "location",
                          "rack", "position", "face", "cluster", "status", "tenant", "criticality", "owner",
                          "primary_ip4", "primary_ip6", "purchase_date", "warranty_end", "description", "comments",
                          "tags"],
             bulk_fields=["status", "tenant", "criticality", "role", "platform", "site", "cluster", "owner"],
             import_fields=["name", "device_type", "role", "platform", "serial", "asset_tag", "site", "location",
                            "rack", "position", "face", "cluster", "status", "tenant", "criticality", "owner",
                            "purchase_date", "warranty_end", "description", "comments", "tags"],
             list_filters=["status", "site", "location", "rack", "role", "manufacturer", "device_type", "platform",
                           "tenant", "criticality", "cluster"],
             dependent={"rack": ("site", "site_id"), "location": ("site", "site_id")},
             form_querysets={"primary_ip4": _own_ips, "primary_ip6": _own_ips},
             related=[
                 RelatedTable("Interfaces", "dcim.interface", "device",
                              ("name", "type", "enabled", "mgmt_only", "mac_address", "mtu"), "device_id", limit=200),
                 RelatedTable("IP addresses", "ipam.ipaddress", "interface__device",
                              ("address", "interface", "status", "role", "dns_name"), "device_id"),
                 RelatedTable("Virtual machines", "virtualization.virtualmachine", "device",
                              ("name", "status", "cluster", "tenant"), "device_id"),
             ])
    register(dcim.Manufacturer, filterset=dcim_fs.ManufacturerFilterSet, group="Devices",
             columns=["name", "slug", "description"])
    register(dcim.DeviceType, filterset=dcim_fs.DeviceTypeFilterSet, group="Devices",
             columns=["model", "manufacturer", "slug", "part_number", "u_height", "is_full_depth", "tags"],
             related=[RelatedTable("Interface templates", "dcim.interfacetemplate", "device_type",
                                   ("name", "type", "mgmt_only"), "device_type_id")])
    register(dcim.InterfaceTemplate, filterset=dcim_fs.InterfaceTemplateFilterSet, group="Devices",
             columns=["id", "device_type", "name", "type", "mgmt_only"])
    register(dcim.DeviceRole, filterset=dcim_fs.DeviceRoleFilterSet, group="Devices",
             columns=["name", "slug", "color", "vm_role", "description"])
    register(dcim.Platform, filterset=dcim_fs.PlatformFilterSet, group="Devices",
             columns=["name", "slug", "manufacturer", "description"])
    register(dcim.Interface, filterset=dcim_fs.InterfaceFilterSet, group="Devices",
             columns=["device", "name", "label", "type", "enabled", "mgmt_only", "mac_address", "mtu", "tags"],
             list_filters=["type", "enabled", "mgmt_only"],
             related=[RelatedTable("IP addresses", "ipam.ipaddress", "interface", ("address", "status", "dns_name"),
                                   "interface_id")])

    register(ipam.Prefix, filterset=ipam_fs.PrefixFilterSet, group="IPAM",
             columns=["prefix", "status", "site", "tenant", "vlan_vid", "is_pool", "description", "tags"])
    register(ipam.IPAddress, filterset=ipam_fs.IPAddressFilterSet, group="IPAM",
             columns=["address", "status", "role", "tenant", "interface__device", "interface",
                      "vminterface__virtual_machine", "vminterface", "dns_name", "tags"],
             list_filters=["status", "role", "tenant"])

    register(virt.ClusterType, filterset=virt_fs.ClusterTypeFilterSet, group="Virtualization",
             columns=["name", "slug", "description"])
    register(virt.ClusterGroup, filterset=virt_fs.ClusterGroupFilterSet, group="Virtualization",
             columns=["name", "slug", "description"])
    register(virt.Cluster, filterset=virt_fs.ClusterFilterSet, group="Virtualization",
             columns=["name", "type", "group", "site", *CI_COLUMNS],
             related=[RelatedTable("Hosts", "dcim.device", "cluster", ("name", "status", "rack", "role"), "cluster_id"),
                      RelatedTable("Virtual machines", "virtualization.virtualmachine", "cluster",
                                   ("name", "status", "tenant", "vcpus", "memory", "primary_ip4"), "cluster_id",
                                   limit=100)])
    register(virt.VirtualMachine, filterset=virt_fs.VirtualMachineFilterSet, group="Virtualization",
             columns=["name", "status", "tenant", "site", "cluster", "device", "role", "platform", "vcpus",
                      "memory", "disk", "primary_ip4", "serial", "criticality", "owner", "last_seen", "tags"],
             default_columns=["name", "status", "tenant", "cluster", "role", "vcpus", "memory", "primary_ip4",
                              "tags"],
             list_filters=["status", "site", "cluster", "role", "platform", "tenant", "criticality"],
             dependent={"cluster": ("site", "site_id")},
             form_querysets={"primary_ip4": _own_vm_ips, "primary_ip6": _own_vm_ips},
             form_fields=["name", "site", "cluster", "device", "role", "platform", "serial", "vcpus", "memory",
                          "disk", "status", "tenant", "criticality", "owner", "primary_ip4", "primary_ip6",
                          "description", "comments", "tags"],
             import_fields=["name", "site", "cluster", "device", "role", "platform", "serial", "vcpus", "memory",
                            "disk", "status", "tenant", "criticality", "owner", "description", "comments", "tags"],
             related=[RelatedTable("Interfaces", "virtualization.vminterface", "virtual_machine",
                                   ("name", "enabled", "mac_address", "mtu"), "virtual_machine_id"),
                      RelatedTable("IP addresses", "ipam.ipaddress", "vminterface__virtual_machine",
                                   ("address", "vminterface", "status", "dns_name"), "virtual_machine_id")])
    register(virt.VMInterface, filterset=virt_fs.VMInterfaceFilterSet, group="Virtualization",
             columns=["virtual_machine", "name", "enabled", "mac_address", "mtu", "tags"],
             list_filters=["enabled"],
             related=[RelatedTable("IP addresses", "ipam.ipaddress", "vminterface", ("address", "status"),
                                   "vminterface_id")])

    register(extras.Tag, filterset=extras_fs.TagFilterSet, columns=["name", "slug", "color", "description"])
    register(extras.CustomField, filterset=extras_fs.CustomFieldFilterSet,
             columns=["name", "label", "type", "required", "weight", "description"])
    register(extras.JournalEntry, filterset=extras_fs.JournalEntryFilterSet, read_only=True,
             columns=["id", "created", "assigned_object_type", "assigned_object_id", "kind", "created_by",
                      "comments"])
    register(ConfigurationItem, filterset=core_fs.ConfigurationItemFilterSet, read_only=True,
             columns=["name", "kind", "status", "tenant", "criticality", "owner", "last_seen"],
             list_filters=["status", "tenant", "criticality"])
    register_panel("core.configurationitem", typed_object_panel)
    register(ObjectChange, filterset=core_fs.ObjectChangeFilterSet, read_only=True,
             columns=["time", "user_name", "action", "changed_object_type", "object_repr", "source"],
             list_filters=["action"])
