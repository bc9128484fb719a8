"""Web-UI pages for prefixes and IP addresses."""

from cmdb.ui.registry import register

from . import filtersets, models

register(models.Prefix, filterset=filtersets.PrefixFilterSet, group="IPAM",
         columns=["prefix", "status", "site", "tenant", "vlan_vid", "is_pool", "description", "tags"])
register(models.IPAddress, filterset=filtersets.IPAddressFilterSet, group="IPAM",
         columns=["address", "status", "role", "tenant", "interface__device", "interface",
                  "vminterface__virtual_machine", "vminterface", "dns_name", "tags"],
         list_filters=["status", "role", "tenant"])
