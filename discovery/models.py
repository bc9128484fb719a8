"""What discovery stores: discovered hosts, their identifiers, who set each attribute, and every ingest.

``Host`` is the CI that discovery creates and keeps current (kind
``discovery.host``; its registry row carries name, status and ``last_seen``).
``Identifier`` rows are what identification matches on; ``AttributeSource``
says per (CI, attribute) which source set the value last and when, which is
what source precedence decides on and what the reconciliation page shows.
``IngestRecord`` is one row per accepted report: which rule matched, what it
did, and the conflicts it saw.  The last three belong to their CI's tenant
(``tenant_path = "ci__tenant"``), so a tenant-limited user sees only their own.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from cmdb.core.models.base import CIModel


class HostRole(models.TextChoices):
    HOST = "host", "Host"
    NETWORK_DEVICE = "network_device", "Network device"


class Host(CIModel):
    """A machine or network device as discovery sees it."""

    name = models.CharField(max_length=255)
    role = models.CharField(max_length=20, choices=HostRole.choices, default=HostRole.HOST)
    fqdn = models.CharField(max_length=255, blank=True, db_index=True)
    serial = models.CharField(max_length=100, blank=True, db_index=True)
    manufacturer = models.CharField(max_length=100, blank=True)
    product = models.CharField(max_length=100, blank=True)
    system_uuid = models.CharField(max_length=36, blank=True, db_index=True)
    is_virtual = models.BooleanField(null=True, blank=True)
    os_name = models.CharField(max_length=100, blank=True)
    os_version = models.CharField(max_length=100, blank=True)
    kernel = models.CharField(max_length=100, blank=True)
    cpu_model = models.CharField(max_length=200, blank=True)
    cpu_sockets = models.PositiveIntegerField(null=True, blank=True)
    cpu_cores = models.PositiveIntegerField(null=True, blank=True)
    memory_mb = models.PositiveBigIntegerField(null=True, blank=True)
    facts = models.JSONField(default=dict, blank=True, help_text="Disks, interfaces, services, SNMP system data")
    identified_by = models.CharField(max_length=20, blank=True, help_text="Rule that matched the last report")
    first_discovered = models.DateTimeField(null=True, blank=True)
    stale = models.BooleanField(default=False, db_index=True)
    software_refreshed = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When the last_seen of all its software installations was last rewritten")
    # The machine as recorded in the CMDB, when discovery found it there (see discovery.linking).
    device = models.ForeignKey("dcim.Device", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="discovered_hosts")
    virtual_machine = models.ForeignKey("virtualization.VirtualMachine", on_delete=models.SET_NULL, null=True,
                                        blank=True, related_name="discovered_hosts")
    link_rule = models.CharField(max_length=20, blank=True,
                                 help_text='Rule that linked the record ("serial", "vm-name"); "manual" is kept')

    search_fields = ("name", "fqdn", "serial", "system_uuid")
    # last_seen moves with every report; it is observation, not configuration, so it is not a change.
    snapshot_exclude = frozenset({"created", "last_updated", "ci", "last_seen", "identified_by",
                                  "software_refreshed"})

    class Meta:
        ordering = ("name", "id")

    @classmethod
    def ci_kind(cls) -> str:
        return "discovery.host"


class IdentifierScheme(models.TextChoices):
    SERIAL = "serial", "Serial + manufacturer"
    UUID = "uuid", "System UUID"
    MAC = "mac", "MAC address"
    FQDN = "fqdn", "FQDN / hostname"


class Identifier(models.Model):
    """One identifying value of a CI.  Serials, MACs and names belong to one CI at a time;
    system UUIDs may be shared (cloned VMs), so only they have no uniqueness."""

    ci = models.ForeignKey("core.ConfigurationItem", on_delete=models.CASCADE, related_name="+")
    scheme = models.CharField(max_length=10, choices=IdentifierScheme.choices)
    value = models.CharField(max_length=255)

    tenant_path = "ci__tenant"

    class Meta:
        indexes = [models.Index(fields=["scheme", "value"]), models.Index(fields=["ci", "scheme"])]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "value"], condition=~Q(scheme="uuid"),
                                    name="discovery_identifier_unique_value"),
            models.UniqueConstraint(fields=["ci", "scheme", "value"], name="discovery_identifier_unique_ci"),
        ]

    def __str__(self) -> str:
        return f"{self.scheme}={self.value}"


class AttributeSource(models.Model):
    """Which source last set ``attribute`` of ``ci``, when, and a digest of the value it set."""

    ci = models.ForeignKey("core.ConfigurationItem", on_delete=models.CASCADE, related_name="+")
    attribute = models.CharField(max_length=50)
    source = models.CharField(max_length=20, help_text="Source type: manual, agent, network, ansible, ...")
    source_name = models.CharField(max_length=100, blank=True)
    value_digest = models.CharField(max_length=32)
    set_at = models.DateTimeField()

    tenant_path = "ci__tenant"

    class Meta:
        ordering = ("ci", "attribute")
        constraints = [models.UniqueConstraint(fields=["ci", "attribute"], name="discovery_attrsource_unique")]

    def __str__(self) -> str:
        return f"{self.attribute} by {self.source}"


class IngestAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    NOOP = "noop", "No change"


class IngestRecord(models.Model):
    """One accepted report: the outcome that explains what identification and reconciliation did."""

    ci = models.ForeignKey("core.ConfigurationItem", on_delete=models.CASCADE, related_name="+")
    received = models.DateTimeField(db_index=True)
    collected_at = models.DateTimeField()
    source = models.CharField(max_length=20)
    source_name = models.CharField(max_length=100)
    rule = models.CharField(max_length=20, blank=True, help_text="Identification rule that matched; empty if created")
    action = models.CharField(max_length=10, choices=IngestAction.choices)
    changed = models.JSONField(default=list, help_text="Attributes this report set")
    skipped = models.JSONField(default=dict, help_text="Attribute -> stronger source that kept its value")
    software = models.JSONField(default=dict, help_text="Counts: added, removed, upgraded, unchanged")
    conflicts = models.JSONField(default=list)

    tenant_path = "ci__tenant"

    class Meta:
        ordering = ("-received", "-id")
        indexes = [models.Index(fields=["ci", "received"])]

    def __str__(self) -> str:
        return f"{self.source_name} {self.action} ci {self.ci_id}"
