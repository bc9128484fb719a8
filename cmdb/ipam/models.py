"""IP prefixes and addresses."""

from __future__ import annotations

from typing import Any

import netaddr
from django.core.exceptions import ValidationError
from django.db import models

from cmdb.core.models.base import PrimaryModel

from .ranges import MaskLengthField, NetworkKeyField


class PrefixStatus(models.TextChoices):
    CONTAINER = "container", "Container"
    ACTIVE = "active", "Active"
    RESERVED = "reserved", "Reserved"
    DEPRECATED = "deprecated", "Deprecated"


class IPStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RESERVED = "reserved", "Reserved"
    DEPRECATED = "deprecated", "Deprecated"
    DHCP = "dhcp", "DHCP"
    SLAAC = "slaac", "SLAAC"


class IPRole(models.TextChoices):
    LOOPBACK = "loopback", "Loopback"
    SECONDARY = "secondary", "Secondary"
    VIP = "vip", "VIP"
    VRRP = "vrrp", "VRRP"
    ANYCAST = "anycast", "Anycast"


def parse_network(value: str, *, host: bool) -> netaddr.IPNetwork:
    """Parse and normalise a CIDR; ``host`` keeps the host bits (addresses)."""
    try:
        net = netaddr.IPNetwork(str(value).strip())
    except (netaddr.AddrFormatError, ValueError, TypeError) as exc:
        raise ValidationError(f"{value!r} is not a valid CIDR (e.g. 10.1.2.3/24 or 2001:db8::1/64).") from exc
    if "/" not in str(value):
        raise ValidationError("Give the mask length, e.g. 10.1.2.3/24.")
    return net if host else net.cidr


class Prefix(PrimaryModel):
    """A network, e.g. the /16 of a campus or the /24 VLAN of a building."""

    #: Too many rows for a <select>: UI forms take its id, UI filters offer no menu (cmdb.ui.registry).
    large_table = True

    prefix = models.CharField(max_length=43)
    family = models.PositiveSmallIntegerField(editable=False, default=4)
    site = models.ForeignKey("dcim.Site", on_delete=models.PROTECT, null=True, blank=True, related_name="prefixes")
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=20, choices=PrefixStatus.choices, default=PrefixStatus.ACTIVE)
    vlan_vid = models.PositiveSmallIntegerField(null=True, blank=True)
    is_pool = models.BooleanField(default=False)
    # Derived from ``prefix`` on every write, for the containment filters (see cmdb/ipam/ranges.py).
    network_start = NetworkKeyField(source="prefix", part=1)
    network_end = NetworkKeyField(source="prefix", part=2)
    mask_length = MaskLengthField(source="prefix")

    display_field = "prefix"
    snapshot_exclude = frozenset({"created", "last_updated", "network_start", "network_end", "mask_length"})
    tenant_path = "tenant"
    search_fields = ("prefix", "description")

    class Meta:
        ordering = ("family", "prefix")
        verbose_name_plural = "prefixes"
        constraints = [models.UniqueConstraint(fields=["prefix", "site"], name="ipam_prefix_unique_site")]
        indexes = [models.Index(fields=["family", "network_start", "network_end"], name="ipam_prefix_range")]

    def clean(self) -> None:
        super().clean()
        try:
            net = parse_network(self.prefix, host=False)
        except ValidationError as exc:
            raise ValidationError({"prefix": exc.messages}) from exc
        self.prefix = str(net)
        self.family = net.version

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.prefix:
            try:
                net = parse_network(self.prefix, host=False)
                self.prefix, self.family = str(net), net.version
            except ValidationError:
                pass
        super().save(*args, **kwargs)


class IPAddress(PrimaryModel):
    """An address with its mask, optionally assigned to a device or VM interface.

    NetBox models the assignment as a generic relation; two concrete foreign
    keys give the same API (``assigned_object_type``/``_id``) with joins and
    filters the database can index.
    """

    #: Too many rows for a <select>: UI forms take its id, UI filters offer no menu (cmdb.ui.registry).
    large_table = True

    address = models.CharField(max_length=49)
    family = models.PositiveSmallIntegerField(editable=False, default=4)
    status = models.CharField(max_length=20, choices=IPStatus.choices, default=IPStatus.ACTIVE)
    role = models.CharField(max_length=20, choices=IPRole.choices, blank=True)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    interface = models.ForeignKey(
        "dcim.Interface", on_delete=models.CASCADE, null=True, blank=True, related_name="ip_addresses"
    )
    vminterface = models.ForeignKey(
        "virtualization.VMInterface", on_delete=models.CASCADE, null=True, blank=True, related_name="ip_addresses"
    )
    dns_name = models.CharField(max_length=255, blank=True)
    # Derived from ``address`` on every write, for ``parent`` and ``mask_length`` (see cmdb/ipam/ranges.py).
    host_key = NetworkKeyField(source="address", part=1, host=True)
    mask_length = MaskLengthField(source="address", host=True)

    display_field = "address"
    snapshot_exclude = frozenset({"created", "last_updated", "host_key", "mask_length"})
    tenant_path = "tenant"
    #: An address is attached to its interface: the writer must be allowed to change that interface
    #: (``assigned_object`` is the API's generic name for the two keys).
    reference_actions = {"assigned_object": "change", "interface": "change", "vminterface": "change"}
    search_fields = ("address", "dns_name", "description")

    class Meta:
        ordering = ("family", "address", "id")
        verbose_name = "IP address"
        verbose_name_plural = "IP addresses"
        indexes = [models.Index(fields=["address"]),
                   models.Index(fields=["family", "host_key"], name="ipam_ipaddress_host")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(interface__isnull=True) | models.Q(vminterface__isnull=True),
                name="ipam_ipaddress_single_assignment",
            )
        ]

    def clean(self) -> None:
        super().clean()
        try:
            net = parse_network(self.address, host=True)
        except ValidationError as exc:
            raise ValidationError({"address": exc.messages}) from exc
        self.address = str(net)
        self.family = net.version

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.address and "/" in self.address:
            try:
                net = netaddr.IPNetwork(self.address)
                self.address, self.family = str(net), net.version
            except (netaddr.AddrFormatError, ValueError):
                pass
        super().save(*args, **kwargs)

    @property
    def assigned_object(self) -> Any:
        return self.interface or self.vminterface
