"""Web-UI pages for sites, locations, racks, devices and their catalogue."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from cmdb.ui.registry import CI_COLUMNS, RelatedTable, register

from . import filtersets, models


def _own_ips(obj: Any, qs: QuerySet) -> QuerySet:
    """A device's primary IP is one of the addresses on its own interfaces."""
    if obj is None or obj.pk is None:
        return qs.none()
    return qs.filter(interface__device=obj)


org = "Organization"
register(models.Site, filterset=filtersets.SiteFilterSet, group=org,
         columns=["name", "slug", "status", "tenant", "facility", "time_zone", "description", "tags"],
         related=[RelatedTable("Locations", "dcim.location", "site", ("name", "parent", "status"), "site_id"),
                  RelatedTable("Racks", "dcim.rack", "site", ("name", "location", "status", "u_height"),
                               "site_id")])
register(models.Location, filterset=filtersets.LocationFilterSet, group=org,
         columns=["name", "site", "parent", "status", "tenant", "facility", "tags"],
         dependent={"parent": ("site", "site_id")},
         related=[RelatedTable("Racks", "dcim.rack", "location", ("name", "status", "u_height"), "location_id")])
register(models.Rack, filterset=filtersets.RackFilterSet, group="Devices",
         columns=["name", "site", "location", "u_height", "serial", "asset_tag", *CI_COLUMNS],
         default_columns=["name", "site", "location", "u_height", "status", "tenant", "tags"],
         dependent={"location": ("site", "site_id")}, rack_elevation=True,
         related=[RelatedTable("Devices", "dcim.device", "rack",
                               ("name", "role", "device_type", "position", "face", "status"), "rack_id",
                               limit=100)])
register(models.Device, filterset=filtersets.DeviceFilterSet, group="Devices",
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
register(models.Manufacturer, filterset=filtersets.ManufacturerFilterSet, group="Devices",
         columns=["name", "slug", "description"])
register(models.DeviceType, filterset=filtersets.DeviceTypeFilterSet, group="Devices",
         columns=["model", "manufacturer", "slug", "part_number", "u_height", "is_full_depth", "tags"],
         related=[RelatedTable("Interface templates", "dcim.interfacetemplate", "device_type",
                               ("name", "type", "mgmt_only"), "device_type_id")])
register(models.InterfaceTemplate, filterset=filtersets.InterfaceTemplateFilterSet, group="Devices",
         columns=["id", "device_type", "name", "type", "mgmt_only"])
register(models.DeviceRole, filterset=filtersets.DeviceRoleFilterSet, group="Devices",
         columns=["name", "slug", "color", "vm_role", "description"])
register(models.Platform, filterset=filtersets.PlatformFilterSet, group="Devices",
         columns=["name", "slug", "manufacturer", "description"])
register(models.Interface, filterset=filtersets.InterfaceFilterSet, group="Devices",
         columns=["device", "name", "label", "type", "enabled", "mgmt_only", "mac_address", "mtu", "tags"],
         list_filters=["type", "enabled", "mgmt_only"],
         related=[RelatedTable("IP addresses", "ipam.ipaddress", "interface", ("address", "status", "dns_name"),
                               "interface_id")])
