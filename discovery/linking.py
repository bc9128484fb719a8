"""Linking a discovered host to the machine already recorded in the CMDB.

A server that was entered by hand (or imported) as a ``dcim.Device`` and is then
discovered by an agent is one machine, not two: the discovered host keeps its own
record of what the sources reported (its facts, claims and software), and points
at the recorded device or virtual machine, so sysadmins see both on the device's
page and reports can join them.

Rules, strongest first; a rule links only when it finds exactly one candidate:

* ``serial``: a device with the host's serial number (and, when several devices
  share it across manufacturers, the one whose manufacturer name matches);
* ``vm-name``: for hosts that are (or may be) virtual, a virtual machine named
  like the host's hostname or FQDN.

Linking runs when a host is created and when its serial, name or FQDN changes,
and for every unlinked host with ``cmdb discover link`` (after an import of
devices, say).  A link set by hand (``link_rule = "manual"``) is never changed.
A report ingested on a user's behalf links only to devices and VMs that user may
change (the candidates pass :func:`~cmdb.users.permissions.restrict`, in the same
query): a faculty's agent cannot attach its hosts to another faculty's machines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from cmdb.dcim.models import Device
from cmdb.users.permissions import restrict
from cmdb.virtualization.models import VirtualMachine

from .models import Host

#: Attributes whose change makes an existing host look for its record again.
TRIGGERS = frozenset({"serial", "name", "fqdn", "manufacturer"})


def _names(host: Host) -> set[str]:
    names = {host.name, host.fqdn, (host.fqdn or "").split(".")[0]}
    return {v for n in names if n for v in (n, n.lower(), n.upper())}


def _serials(host: Host) -> set[str]:
    serial = (host.serial or "").strip()
    return {serial, serial.upper(), serial.lower()} if serial else set()


def _pick_device(host: Host, rows: list[tuple[int, str, str]]) -> int | None:
    """(id, serial, manufacturer name) candidates: one, or the one whose manufacturer matches."""
    serial = (host.serial or "").strip().lower()
    rows = [r for r in rows if r[1].lower() == serial]
    if len(rows) > 1 and host.manufacturer:
        word = host.manufacturer.split()[0].lower()
        rows = [r for r in rows if word in r[2].lower()]
    return rows[0][0] if len(rows) == 1 else None


@dataclass
class Candidates:
    """Recorded devices by lower-case serial and VMs by lower-case name, for a set of hosts."""

    devices: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)
    vms: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def load(cls, hosts: list[Host], *, user: Any = None) -> Candidates:
        """At most two queries whatever the number of hosts (devices by serial, VMs by name).

        ``user``: only the devices and VMs this user may change (None: all of them).
        """
        out = cls()
        serials = {s for h in hosts if h.is_virtual is not True for s in _serials(h)}
        names = {n for h in hosts if h.is_virtual is not False for n in _names(h)}
        if serials:
            devices = Device.objects.filter(serial__in=serials)
            if user is not None:
                devices = restrict(devices, user, "change")
            for row in devices.values_list("id", "serial", "manufacturer__name"):
                out.devices.setdefault(row[1].lower(), []).append(row)
        if names:
            vms = VirtualMachine.objects.filter(name__in=names)
            if user is not None:
                vms = restrict(vms, user, "change")
            for pk, name in vms.values_list("id", "name"):
                out.vms.setdefault(name.lower(), []).append(pk)
        return out

    def match(self, host: Host) -> tuple[int | None, int | None, str]:
        """(device id, virtual machine id, rule); rule is "" when nothing matched unambiguously."""
        if host.serial and host.is_virtual is not True:
            device = _pick_device(host, self.devices.get(host.serial.strip().lower(), []))
            if device is not None:
                return device, None, "serial"
        if host.is_virtual is not False:
            found = {pk for n in _names(host) for pk in self.vms.get(n.lower(), [])}
            if len(found) == 1:
                return None, found.pop(), "vm-name"
        return None, None, ""


def match(host: Host, *, user: Any = None) -> tuple[int | None, int | None, str]:
    """(device id, virtual machine id, rule) for ``host``; rule is "" when nothing matched unambiguously."""
    return Candidates.load([host], user=user).match(host)


def apply(host: Host, candidates: Candidates | None = None, *, user: Any = None) -> bool:
    """Set ``host``'s link fields from the match (not saved); True if they changed.

    ``user``: link only to records this user may change (when ``candidates`` are not given).
    """
    if host.link_rule == "manual":
        return False
    device, vm, rule = (candidates or Candidates.load([host], user=user)).match(host)
    if (host.device_id, host.virtual_machine_id, host.link_rule) == (device, vm, rule):
        return False
    host.device_id, host.virtual_machine_id, host.link_rule = device, vm, rule
    return True


def link_unlinked(progress: Any = None) -> int:
    """Link every host without a record that now matches one; returns how many were linked.

    In bulk: one query for the hosts, at most two for the candidates, one for their tags,
    one UPDATE, and one change record per changed host (attributed to ``discovery:linking``).
    """
    from cmdb.core import changelog
    from cmdb.core.choices import ChangeAction
    from cmdb.core.context import change_logging

    hosts = list(Host.objects.filter(device__isnull=True, virtual_machine__isnull=True)
                 .exclude(link_rule="manual"))
    candidates = Candidates.load(hosts)
    with change_logging(source="discovery:linking"):
        changed, pre = [], {}
        tags = changelog.tags_by_object(hosts)
        for host in hosts:
            if progress is not None:
                progress()
            before = host.snapshot(tags=tags.get((host._meta.label_lower, host.pk), []))
            if apply(host, candidates):  # linked, or a rule left by a deleted record cleared
                pre[host.pk] = before
                changed.append(host)
        if changed:
            Host.objects.bulk_update(changed, ["device", "virtual_machine", "link_rule"])
            changelog.note_many(changed, ChangeAction.UPDATE, pre)
    return sum(1 for h in changed if h.device_id or h.virtual_machine_id)


def hosts_for(obj: Any) -> Q | None:
    """The filter for discovered hosts linked to a recorded device or VM (None for other objects)."""
    if isinstance(obj, Device):
        return Q(device=obj)
    if isinstance(obj, VirtualMachine):
        return Q(virtual_machine=obj)
    return None


def machines_by_system_uuid(*, system_uuids: set[str], user: Any = None, **_kwargs: Any
                            ) -> dict[str, tuple[str, int]]:
    """Answer to :data:`cmdb.core.hooks.machines_by_system_uuid`: for each UUID, the device or VM that the
    discovered hosts with that UUID are linked to, when they agree on one (cloned VMs may share a UUID).

    One query whatever the number of UUIDs; with ``user``, only devices and VMs that user may change.
    """
    if not system_uuids:
        return {}
    rows = Host.objects.filter(system_uuid__in={u.lower() for u in system_uuids}).filter(
        Q(device__isnull=False) | Q(virtual_machine__isnull=False))
    if user is not None:
        rows = rows.filter(Q(device__in=restrict(Device.objects.all(), user, "change"))
                           | Q(virtual_machine__in=restrict(VirtualMachine.objects.all(), user, "change")))
    found: dict[str, set[tuple[str, int]]] = {}
    for uuid, device, vm in rows.values_list("system_uuid", "device_id", "virtual_machine_id"):
        found.setdefault(uuid, set()).add(("device", device) if device else ("virtual_machine", vm))
    return {uuid: next(iter(places)) for uuid, places in found.items() if len(places) == 1}
