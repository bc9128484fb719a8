"""The reporter's scope: a discovery report may touch only CIs its reporter may change.

A report is ingested on behalf of a user (the API token's owner, or whoever started a
discovery job); ``None`` is the system itself (schedules, ``cmdb discover``), which is not
limited.  Every decision is :func:`cmdb.users.permissions.restrict`'s, the one gate:

* identification proposes only discovered hosts the reporter may ``change``.  A unique
  identifier (serial, MAC address, FQDN) held by any other CI refuses the report with a 403
  naming that identifier: taking it would change the other CI, and leaving it there would
  make a second host of every later report of the same machine;
* linking (:mod:`discovery.linking`) considers only devices and VMs the reporter may change;
* a relationship target outside the scope stays unresolved, exactly like an unknown one;
* a new host gets the tenant the report names (``"tenant": "<slug>"``), else the reporter's
  own tenant when the reporter may add hosts in exactly one; a reporter limited to several
  tenants must name one.  An existing host keeps its tenant: a report naming another one is
  refused (discovery never moves CIs between tenants);
* after the writes, inside the ingest's transaction, the host (``add`` when created, ``change``
  otherwise), a link it got and every other CI the report touched (identifiers moved from it,
  relationship targets) are checked again with ``restrict``; a refusal rolls it all back.

Cost: nothing for an unlimited reporter (a superuser, unconstrained grants, the system; decided
from the grants loaded once per request).  For a tenant-limited reporter one query before
identification, one after the writes (two when identifiers moved or relationships were made)
and one per report that names a tenant, whatever the report's size.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied

from cmdb.dcim.models import Device
from cmdb.users.permissions import ALL, grants_for, restrict, unrestricted
from cmdb.virtualization.models import VirtualMachine
from discovery.identification import Identification
from discovery.models import Host
from discovery.schema import ReportInvalid

#: Schemes whose value belongs to one CI at a time (system UUIDs may be shared by clones).
UNIQUE_SCHEMES = ("serial", "mac", "fqdn")
FOREIGN = "Identifies a CI you may not change."


class ReportRefused(PermissionDenied):
    """A report that would touch a CI outside its reporter's scope (403); nothing of it is written.

    ``errors`` maps a JSON path of the report to messages, like :class:`ReportInvalid`.
    """

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("discovery report refused")
        self.errors = errors


def identifier_path(scheme: str, value: str, identifiers: dict[str, Any], base: str = "$.identifiers") -> str:
    """The JSON path of the report's identifier with this normalised (scheme, value)."""
    if scheme == "mac":
        for i, mac in enumerate(identifiers.get("mac_addresses") or []):
            if mac.lower() == value:
                return f"{base}.mac_addresses[{i}]"
        return f"{base}.mac_addresses"
    if scheme == "fqdn":
        return f"{base}.fqdn" if identifiers.get("fqdn") else f"{base}.hostname"
    return f"{base}.{'system_uuid' if scheme == 'uuid' else scheme}"


class ReporterScope:
    """What one report may touch, for one reporter (built per ingest; no query to build)."""

    def __init__(self, user: Any = None) -> None:
        self.user = user

        def limited(model: Any, action: str) -> bool:
            return user is not None and not unrestricted(user, model, action)

        self.hosts = limited(Host, "change")
        self.adds = limited(Host, "add")
        self.devices = limited(Device, "change")
        self.vms = limited(VirtualMachine, "change")

    @property
    def linking_user(self) -> Any:
        """The user linking must restrict its candidates by (None: no restriction needed)."""
        return self.user if self.devices or self.vms else None

    def changeable(self, ci_ids: set[int]) -> set[int]:
        """The discovered hosts' CI ids among ``ci_ids`` that the reporter may change: one query."""
        if not self.hosts or not ci_ids:
            return set(ci_ids)
        return set(restrict(Host.objects.filter(ci_id__in=ci_ids), self.user, "change")
                   .values_list("ci_id", flat=True))

    @property
    def allowed(self) -> Any:
        """For :func:`~discovery.identification.identify`: None when every CI is allowed."""
        return self.changeable if self.hosts else None

    def refuse_foreign(self, ident: Identification, identifiers: dict[str, Any]) -> None:
        """403 when a unique identifier of the report belongs to a CI outside the scope."""
        errors: dict[str, list[str]] = {}
        for scheme, value in ident.foreign:
            if scheme in UNIQUE_SCHEMES:
                errors.setdefault(identifier_path(scheme, value, identifiers), [FOREIGN])
        if errors:
            raise ReportRefused(dict(sorted(errors.items())))

    def tenant(self, report: dict[str, Any], host: Host | None) -> int | None:
        """The tenant id of a new host (``host`` None); for an existing one, check the report's ``tenant``."""
        slug = report.get("tenant")
        if slug:
            tenant_id = _tenant_id(slug)
            if tenant_id is None:
                # The same answer as for another tenant's slug: no list of tenants by trial.
                if self.adds:
                    raise ReportRefused({"$.tenant": ["You may not add discovered hosts in this tenant."]})
                raise ReportInvalid({"$.tenant": ["No tenant has this slug."]})
            if host is not None and host.tenant_id != tenant_id:
                raise ReportInvalid({"$.tenant": [
                    "This host belongs to another tenant; discovery does not move CIs between tenants."]})
            return tenant_id
        if host is not None:
            return host.tenant_id
        if not self.adds:
            return None
        granted, tenants = grants_for(self.user).lookup(Host._meta.label_lower, "add")
        if not granted or tenants is ALL:
            return None  # no grant at all: the check after the write refuses it
        if len(tenants) > 1:
            raise ReportInvalid({"$.tenant": [
                "You may add discovered hosts in several tenants: name this host's tenant (its slug)."]})
        return next(iter(tenants))

    def check_written(self, host: Host, *, created: bool, named_tenant: bool, linked: bool,
                      touched: dict[str, Iterable[int]]) -> None:
        """After the writes, in their transaction: may the reporter still do all of it?  Else roll back.

        ``linked``: this ingest changed the host's link; ``touched``: a JSON path of the report ->
        CI ids of other discovered hosts it changed or related to (identifiers moved, targets).
        """
        query = Host.objects.filter(pk=host.pk)
        parts: list[tuple[str, str, Any]] = []  # (path, message, filter) for naming a failure
        if self.adds if created else self.hosts:
            action = "add" if created else "change"
            path = "$.tenant" if created and named_tenant else "$"
            message = ("You may not add discovered hosts in this tenant." if created and named_tenant else
                       "You may not add discovered hosts." if created else "You may not change this discovered host.")
            parts.append((path, message, lambda q, a=action: restrict(q, self.user, a)))
        if linked and host.device_id is not None and self.devices:
            parts.append(("$.identifiers.serial", "Links this host to a device you may not change.",
                          lambda q: q.filter(device__in=restrict(Device.objects.filter(pk=host.device_id),
                                                                 self.user, "change"))))
        if linked and host.virtual_machine_id is not None and self.vms:
            parts.append(("$.identifiers", "Links this host to a virtual machine you may not change.",
                          lambda q: q.filter(virtual_machine__in=restrict(
                              VirtualMachine.objects.filter(pk=host.virtual_machine_id), self.user, "change"))))
        if parts:
            combined = query
            for _path, _message, narrow in parts:
                combined = narrow(combined)
            if not combined.exists():  # one query for all parts; which one failed only on refusal
                raise ReportRefused({path: [message] for path, message, narrow in parts
                                     if not narrow(query).exists()} or {"$": ["Outside your scope."]})
        others = {ci for ids in touched.values() for ci in ids} - {host.ci_id}
        if others and self.hosts:
            allowed = self.changeable(others)
            refused = {path: ["Touches a CI you may not change."] for path, ids in touched.items()
                       if set(ids) - {host.ci_id} - allowed}
            if refused:
                raise ReportRefused(refused)


def _tenant_id(slug: Any) -> int | None:
    from cmdb.tenancy.models import Tenant

    return Tenant.objects.filter(slug=str(slug)).values_list("pk", flat=True).first()
