"""Build the demo university deterministically and write it in one attributed transaction.

Two steps, kept apart on purpose:

1. :func:`build_plan` turns :mod:`cmdb.demo.catalog` into *unsaved* model
   instances that refer to each other (a device points at its unsaved device
   type, an interface at its unsaved device).  It only reads the catalogue and
   a seeded :class:`random.Random`, so the same ``(scale, seed)`` always gives
   the same plan; tests compare digests of plans without touching the database.
2. :func:`write_plan` inserts the plan batch by batch with
   :func:`cmdb.core.bulk.bulk_create` inside one
   :func:`cmdb.core.context.change_logging` block: Django fills in the foreign
   keys from the parents saved just before, ``bulk_create`` adds CI registry
   rows, tags and change records, and the whole demo is one transaction with
   one request id in the hash-chained change log.  The domains' demo steps of stage
   ``plan`` (declared on their AppConfig, :class:`cmdb.core.domains.DemoStep`) run in that
   transaction too; those of stage ``extend`` run after it (:func:`generate`).

``bulk_create`` skips ``save()`` and ``clean()``, so the planner sets what
those would derive: the device's manufacturer, normalised addresses and their
family, a VM's site from its cluster, upper-case MAC addresses.  It also keeps
every database constraint by construction (globally unique host names and
serials, one rack position per unit).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Count, OuterRef, Subquery

from cmdb.core import bulk, domains
from cmdb.core.changelog import flush_pending
from cmdb.core.choices import LifecycleStatus
from cmdb.core.context import change_logging
from cmdb.core.models import ConfigurationItem, ObjectChange
from cmdb.dcim.models import (
    Device,
    DeviceRole,
    DeviceType,
    Interface,
    InterfaceTemplate,
    Location,
    Manufacturer,
    Platform,
    Rack,
    Site,
)
from cmdb.demo import catalog as cat
from cmdb.demo import services as demo_services
from cmdb.extras.models import JournalEntry, Tag
from cmdb.ipam.models import IPAddress, Prefix, PrefixStatus
from cmdb.tenancy.models import Contact, ContactAssignment, ContactPriority, ContactRole, Tenant, TenantGroup
from cmdb.virtualization.models import Cluster, ClusterGroup, ClusterType, VirtualMachine, VMInterface

DEFAULT_SEED = 2026
#: History (purchase dates, warranties) is computed from this day, so it never depends on when the demo
#: is generated.  What discovery and monitoring judge by the clock ("last seen") is relative to the time
#: the demo is loaded instead (``build_plan(now=...)``): a demo loaded today must not look a year stale.
BASE_DATE = dt.date(2026, 1, 1)

SERVER_ROLES = frozenset(
    {"server", "hypervisor", "kubernetes-node", "storage", "backup-appliance", "vdi-host", "database-server"}
)
NETWORK_ROLES = frozenset({"core-switch", "access-switch", "firewall", "wlan-controller"})
CLIENT_ROLES = frozenset({"pc", "laptop", "thin-client"})
PRINTER_ROLES = frozenset({"printer"})

#: Rack units servers may use; the top unit of every rack is kept for network gear.
SERVER_UNITS = 41
RACK_HEIGHT = 42
#: Host addresses handed out per /24 (.11-.250; below .11 are gateways and appliances).
HOSTS_PER_NET = 240
#: /16s a campus may grow into at large scales (10.10-10.19 for Zittau, 10.20-10.29 for Görlitz).
NETS_PER_SITE = 10 * 256

_SERIAL_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTVWXYZ"


# --- the plan -----------------------------------------------------------------------------


@dataclass
class Batch:
    """Unsaved objects of one model, written with one ``bulk_create``.

    ``tags`` maps an index to the tags of that object (``bulk_create``'s
    format); ``generic`` maps an index to ``(attname, target)`` for generic
    relations whose id is only known once the target is saved.
    """

    model: type[models.Model]
    objs: list[Any] = field(default_factory=list)
    tags: dict[int, list[Tag]] = field(default_factory=dict)
    generic: dict[int, tuple[str, models.Model]] = field(default_factory=dict)

    def add(self, obj: Any, tags: list[Tag] | None = None,
            generic: tuple[str, models.Model] | None = None) -> Any:
        if tags:
            self.tags[len(self.objs)] = tags
        if generic is not None:
            self.generic[len(self.objs)] = generic
        self.objs.append(obj)
        return obj


#: Write order (parents before children), grouped into the phases the progress bar shows.
PHASES: list[tuple[str, tuple[str, ...]]] = [
    ("organisation", ("tags", "tenant_groups", "tenants", "contact_roles", "contacts", "contact_assignments")),
    ("places", ("sites", "buildings", "rooms")),
    ("hardware catalogue", ("manufacturers", "device_types", "interface_templates", "device_roles", "platforms")),
    ("clusters and racks", ("cluster_types", "cluster_groups", "clusters", "racks")),
    ("devices", ("devices",)),
    ("interfaces", ("interfaces",)),
    ("virtual machines", ("vms", "vm_interfaces")),
    ("IP addresses", ("prefixes", "ip_addresses")),
    ("journal", ("journal",)),
]

_MODELS: dict[str, type[models.Model]] = {
    "tags": Tag, "tenant_groups": TenantGroup, "tenants": Tenant, "contact_roles": ContactRole,
    "contacts": Contact, "contact_assignments": ContactAssignment, "sites": Site, "buildings": Location,
    "rooms": Location, "manufacturers": Manufacturer, "device_types": DeviceType,
    "interface_templates": InterfaceTemplate, "device_roles": DeviceRole, "platforms": Platform,
    "cluster_types": ClusterType, "cluster_groups": ClusterGroup, "clusters": Cluster, "racks": Rack,
    "devices": Device, "interfaces": Interface, "vms": VirtualMachine, "vm_interfaces": VMInterface,
    "prefixes": Prefix, "ip_addresses": IPAddress, "journal": JournalEntry,
}


@dataclass
class Plan:
    """Everything the demo will write, as unsaved instances in write order."""

    scale: int
    seed: int
    batches: dict[str, Batch] = field(default_factory=lambda: {k: Batch(m) for k, m in _MODELS.items()})
    #: (device or VM, its primary IPv4), applied once both are saved.
    primary: list[tuple[Any, IPAddress]] = field(default_factory=list)

    def __getitem__(self, key: str) -> list[Any]:
        return self.batches[key].objs

    @property
    def size(self) -> int:
        return sum(len(b.objs) for b in self.batches.values())


# --- helpers used while planning ----------------------------------------------------------


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _ascii(name: str) -> str:
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("Ä", "Ae"), ("Ö", "Oe"), ("Ü", "Ue")):
        name = name.replace(a, b)
    return name


def _numbered(pattern: str, n: int, width: int) -> str:
    return pattern.replace("{n}", str(n).zfill(width))


class _AddressSpace:
    """The /24s of one campus: allocation by purpose, prefixes, and host addresses.

    A purpose prefers a third octet (servers at 10.10.10.0/24, VMs from
    10.10.32.0/24, buildings from 10.10.100.0/24) so the scale-1 plan reads
    like a real IP plan; when a purpose outgrows its block it takes the next
    free /24, and beyond the campus /16 the following /16 (10.11.x.x), so any
    scale stays free of overlaps.
    """

    def __init__(self, planner: _Planner, site: Site, spec: cat.SiteSpec) -> None:
        self.planner, self.site, self.spec = planner, site, spec
        self.used: set[int] = set()
        self.pools: dict[str, tuple[list[int], Iterator[str]]] = {}

    def cidr(self, index: int) -> str:
        return f"10.{self.spec.net + index // 256}.{index % 256}.0/24"

    def take(self, prefer: int, description: str, *, tenant: Tenant | None = None, is_pool: bool = False,
             after: int | None = None) -> int:
        """Reserve the first free /24 at or after ``prefer`` (or right after ``after``) and plan its prefix."""
        start = prefer if after is None else after + 1
        index = next((i for i in range(start, NETS_PER_SITE) if i not in self.used), None)
        if index is None:
            index = next((i for i in range(NETS_PER_SITE) if i not in self.used), None)
        if index is None:
            raise ValueError(f"Campus {self.spec.name} has no free /24 left; use a smaller --scale.")
        self.used.add(index)
        self.planner.plan.batches["prefixes"].add(Prefix(
            prefix=self.cidr(index), family=4, site=self.site, tenant=tenant, status=PrefixStatus.ACTIVE,
            vlan_vid=1000 + index, is_pool=is_pool, description=f"{self.spec.name}: {description}",
        ))
        return index

    def reserve(self, prefer: int, description: str, hosts: int, **kwargs: Any) -> None:
        """Plan enough /24s for ``hosts`` addresses that are not recorded one by one (DHCP pools)."""
        last: int | None = None
        for _ in range(max(1, math.ceil(hosts / HOSTS_PER_NET))):
            last = self.take(prefer, description, after=last, **kwargs)

    def address(self, purpose: str, prefer: int, description: str) -> str:
        """The next free host address of ``purpose``, growing the purpose by a /24 when it is full."""
        if purpose not in self.pools:
            self.pools[purpose] = ([], iter(()))
        nets, hosts = self.pools[purpose]
        addr = next(hosts, None)
        if addr is None:
            index = self.take(prefer, description, tenant=self.planner.tenant(cat.CC),
                              after=nets[-1] if nets else None)
            nets.append(index)
            base = self.cidr(index).rsplit(".", 1)[0]
            hosts = iter(f"{base}.{h}/24" for h in range(11, 11 + HOSTS_PER_NET))
            self.pools[purpose] = (nets, hosts)
            addr = next(hosts)
        return addr

    def containers(self) -> list[Prefix]:
        """One container /16 per /16 the campus uses (at scale 1 only its own)."""
        return [
            Prefix(prefix=f"10.{self.spec.net + n}.0.0/16", family=4, site=self.site, status=PrefixStatus.CONTAINER,
                   description=f"Campus {self.spec.name}" + (f" (extension {n})" if n else ""))
            for n in sorted({i // 256 for i in self.used} | {0})
        ]


class _Racks:
    """Rack positions of one data-center room: every server gets its own free unit range.

    A server goes into the rack with the most free units that still has a
    contiguous gap for it (so clusters spread over racks, as they should for
    redundancy), at the lowest free unit.  When every rack is full the room
    gets another rack, which is how ``--scale`` keeps positions valid.
    """

    def __init__(self, planner: _Planner, site: Site, spec: cat.SiteSpec, room: Location, dc: str) -> None:
        self.planner, self.site, self.spec, self.room, self.dc = planner, site, spec, room, dc
        self.racks: list[tuple[Rack, set[int]]] = []
        for _ in range(spec.racks):
            self._new_rack()

    def _new_rack(self) -> tuple[Rack, set[int]]:
        n = len(self.racks) + 1
        p = self.planner
        rack = p.plan.batches["racks"].add(Rack(
            name=f"{self.dc}-R{n:02d}", site=self.site, location=self.room, u_height=RACK_HEIGHT,
            serial=p.serial("rack"), asset_tag=p.asset_tag("R"), tenant=p.tenant(cat.CC),
            owner=p.team("server"), criticality="high", status=LifecycleStatus.ACTIVE,
            description=f"{self.spec.name} data center {self.dc}",
        ), [p.tags["monitoring"]])
        self.racks.append((rack, set()))
        return self.racks[-1]

    @staticmethod
    def _gap(used: set[int], height: int, top: int) -> int | None:
        for pos in range(1, top - height + 2):
            if not used.intersection(range(pos, pos + height)):
                return pos
        return None

    def place(self, height: int) -> tuple[Rack, int]:
        candidates = [(SERVER_UNITS - len(used), -i) for i, (_r, used) in enumerate(self.racks)
                      if self._gap(used, height, SERVER_UNITS) is not None]
        if candidates:
            _free, neg_i = max(candidates)
            rack, used = self.racks[-neg_i]
        else:
            rack, used = self._new_rack()
        pos = self._gap(used, height, SERVER_UNITS)
        assert pos is not None
        used.update(range(pos, pos + height))
        return rack, pos

    def top(self, index: int) -> tuple[Rack, int]:
        """The reserved top unit of rack ``index`` (network gear)."""
        rack, used = self.racks[index % len(self.racks)]
        if RACK_HEIGHT in used:
            raise ValueError(f"Top unit of {rack.name} is already taken")
        used.add(RACK_HEIGHT)
        return rack, RACK_HEIGHT


class _Planner:
    """Holds the random streams and counters while :func:`build_plan` runs."""

    def __init__(self, scale: int, seed: int, now: dt.datetime) -> None:
        self.plan = Plan(scale=scale, seed=seed)
        self.scale, self.seed, self.now = scale, seed, now
        self._serials: dict[str, set[str]] = defaultdict(set)
        self._asset = 0
        self._mac: dict[str, int] = {}
        self.tags: dict[str, Tag] = {}
        self._tenants: dict[str, Tenant] = {}
        self.tenant_specs: dict[str, cat.TenantSpec] = {t.slug: t for t in cat.TENANTS}
        self._teams: dict[str, Contact] = {}
        self.tech: dict[str, Contact] = {}
        self.sites: dict[str, Site] = {}
        self.site_specs: dict[str, cat.SiteSpec] = {s.slug: s for s in cat.SITES}
        self.spaces: dict[str, _AddressSpace] = {}
        self.rooms: dict[str, Location] = {}
        self.buildings: dict[str, Location] = {}
        self.racks: dict[str, _Racks] = {}
        self.manufacturers: dict[str, Manufacturer] = {}
        self.types: dict[str, DeviceType] = {}
        self.type_specs: dict[str, cat.DeviceTypeSpec] = {t.slug: t for t in cat.DEVICE_TYPES}
        self.roles: dict[str, DeviceRole] = {}
        self.platforms: dict[str, Platform] = {}
        self.clusters: dict[str, list[Cluster]] = {}
        self.hosts: dict[int, list[Device]] = defaultdict(list)  # id(cluster) -> hosts
        self.devices_by_name: dict[str, Device] = {}

    # Every part of the plan draws from its own stream, so adding a VM group
    # does not change the serial numbers of the servers.
    def rng(self, part: str) -> random.Random:
        return random.Random(f"{self.seed}:{part}")

    def tenant(self, slug: str) -> Tenant:
        return self._tenants[slug]

    def team(self, key: str) -> Contact:
        return self._teams[key]

    def owner(self, key: str, tenant_slug: str) -> Contact:
        """``key`` is a CC team or ``tenant`` for the tenant's technical contact."""
        return self.tech[tenant_slug] if key == "tenant" else self._teams[key]

    def serial(self, manufacturer: str, rng: random.Random | None = None) -> str:
        prefix, length = cat.SERIAL_FORMAT[manufacturer]
        rng = rng or self.rng(f"serial:{manufacturer}:{len(self._serials[manufacturer])}")
        seen = self._serials[manufacturer]
        while True:
            value = prefix + "".join(rng.choice(_SERIAL_ALPHABET) for _ in range(length))
            if value not in seen:
                seen.add(value)
                return value

    def asset_tag(self, kind: str = "") -> str:
        self._asset += 1
        return f"INV-{kind}{self._asset:06d}"

    def mac(self, vendor: str) -> str:
        if vendor not in self._mac:
            self._mac[vendor] = self.rng(f"mac:{vendor}").randrange(0x100000, 0x800000)
        self._mac[vendor] += 1
        n = self._mac[vendor]
        return f"{cat.OUI[vendor]}:{n >> 16 & 0xFF:02X}:{n >> 8 & 0xFF:02X}:{n & 0xFF:02X}"

    def dates(self, rng: random.Random, years: tuple[int, int], warranty: int) -> tuple[dt.date, dt.date]:
        first = dt.date(years[0], 1, 1)
        last = min(dt.date(years[1], 12, 31), BASE_DATE - dt.timedelta(days=30))
        purchase = first + dt.timedelta(days=rng.randrange(max(1, (last - first).days)))
        return purchase, _add_years(purchase, warranty)

    def last_seen(self, rng: random.Random, status: str) -> dt.datetime | None:
        if status == LifecycleStatus.PLANNED:
            return None
        if status in (LifecycleStatus.RETIRED, LifecycleStatus.DISPOSED):
            return self.now - dt.timedelta(days=rng.randrange(30, 400))
        return self.now - dt.timedelta(minutes=rng.randrange(1, 720))

    # --- devices and their interfaces ---

    def device(self, rng: random.Random, *, name: str, type_slug: str, role: str, site: str, tenant: str,
               owner: Contact, criticality: str, platform: str | None = None, status: str = LifecycleStatus.ACTIVE,
               location: Location | None = None, rack: tuple[Rack, int] | None = None,
               cluster: Cluster | None = None, tags: tuple[str, ...] = (), years: tuple[int, int] = (2019, 2025),
               warranty: int = 5, description: str = "", address: tuple[str, int, str] | None = None) -> Device:
        """Plan one device with its interfaces (from the type's templates) and, if given, its primary IPv4.

        ``address`` is ``(purpose, preferred /24, prefix description)`` in the site's address space.
        """
        dtype = self.types[type_slug]
        spec = self.type_specs[type_slug]
        purchase, warranty_end = self.dates(rng, years, warranty)
        dev = Device(
            name=name, device_type=dtype, manufacturer=dtype.manufacturer, role=self.roles[role],
            platform=self.platforms[platform] if platform else None, serial=self.serial(spec.manufacturer, rng),
            asset_tag=self.asset_tag(), site=self.sites[site], location=location, tenant=self.tenant(tenant),
            owner=owner, criticality=criticality, status=status, cluster=cluster,
            purchase_date=purchase, warranty_end=warranty_end, last_seen=self.last_seen(rng, status),
            description=description,
        )
        if rack is not None:
            dev.rack, dev.position, dev.face = rack[0], rack[1], "front"
            dev.location = rack[0].location
        self.plan.batches["devices"].add(dev, [self.tags[t] for t in tags])
        self.devices_by_name[name] = dev
        if cluster is not None:
            self.hosts[id(cluster)].append(dev)
        first: Interface | None = None
        for if_name, if_type, mgmt in cat.INTERFACE_PROFILES[spec.profile]:
            iface = self.plan.batches["interfaces"].add(Interface(
                device=dev, name=if_name, type=if_type, mgmt_only=mgmt, mac_address=self.mac(spec.manufacturer),
            ))
            first = first or iface
        if address is not None and first is not None:
            purpose, prefer, label = address
            ip = self.plan.batches["ip_addresses"].add(IPAddress(
                address=self.spaces[site].address(purpose, prefer, label), family=4, tenant=dev.tenant,
                interface=first, dns_name=f"{name}.{site}.{cat.DOMAIN}", status="active",
            ))
            self.plan.primary.append((dev, ip))
        return dev


# --- planning, part by part ---------------------------------------------------------------


def _plan_organisation(p: _Planner) -> None:
    b = p.plan.batches
    for name, slug, color, description in cat.TAGS:
        p.tags[slug] = b["tags"].add(Tag(name=name, slug=slug, color=color, description=description))
    groups = {slug: b["tenant_groups"].add(TenantGroup(name=name, slug=slug, description=description))
              for name, slug, description in cat.TENANT_GROUPS}
    for spec in cat.TENANTS:
        p._tenants[spec.slug] = b["tenants"].add(Tenant(
            name=spec.name, slug=spec.slug, group=groups[spec.group], description=spec.description,
        ))
    roles = {slug: b["contact_roles"].add(ContactRole(name=name, slug=slug, description=description))
             for name, slug, description in cat.CONTACT_ROLES}

    rng = p.rng("contacts")
    people = rng.sample([(f, last) for f in cat.FIRST_NAMES for last in cat.LAST_NAMES], 2 * len(cat.TENANTS))
    tenant_type = ContentType.objects.get_for_model(Tenant)
    for i, spec in enumerate(cat.TENANTS):
        phone = "+49 3583 612-{}" if spec.home == "zittau" else "+49 3581 374-{}"
        titles = {
            "computing-center": ("Director of the computing center", "Head of infrastructure"),
            "faculties": ("Dean", "IT coordinator"),
            "administration": (f"Head of {spec.name.lower()}", "IT coordinator"),
        }[spec.group]
        for j, (role, title) in enumerate((("owner", titles[0]), ("technical-contact", titles[1]))):
            first, last = people[2 * i + j]
            contact = b["contacts"].add(Contact(
                name=f"{first} {last}", title=title, tenant=p.tenant(spec.slug),
                email=f"{_ascii(first).lower()}.{_ascii(last).lower()}@{cat.DOMAIN}",
                phone=phone.format(2000 + 10 * i + j),
            ))
            if role == "technical-contact":
                p.tech[spec.slug] = contact
            b["contact_assignments"].add(
                ContactAssignment(object_type=tenant_type, contact=contact, role=roles[role],
                                  priority=ContactPriority.PRIMARY),
                generic=("object_id", p.tenant(spec.slug)),
            )
    for key, name, mail, phone in cat.CC_TEAMS:
        p._teams[key] = b["contacts"].add(Contact(
            name=name, email=f"{mail}@{cat.DOMAIN}", phone=phone, tenant=p.tenant(cat.CC), title="Team",
        ))


def _plan_places(p: _Planner) -> None:
    b = p.plan.batches
    for spec in cat.SITES:
        site = b["sites"].add(Site(
            name=spec.name, slug=spec.slug, facility=spec.facility, time_zone="Europe/Berlin",
            physical_address=spec.address, latitude=Decimal(spec.latitude), longitude=Decimal(spec.longitude),
            description=spec.description, status=LifecycleStatus.ACTIVE,
        ))
        p.sites[spec.slug] = site
        p.spaces[spec.slug] = _AddressSpace(p, site, spec)
    for bspec in cat.BUILDINGS:
        site = p.sites[bspec.site]
        building = b["buildings"].add(Location(
            name=bspec.name, slug=bspec.slug, site=site, description=bspec.description,
        ))
        p.buildings[bspec.slug] = building
        for room in bspec.rooms:
            loc = b["rooms"].add(Location(
                name=room.name, slug=room.slug, site=site, parent=building,
                tenant=p.tenant(room.tenant) if room.kind not in ("datacenter", "network") else p.tenant(cat.CC),
            ))
            p.rooms[room.slug] = loc
            if room.kind == "datacenter":
                dc = room.name.rsplit(" ", 1)[-1]
                p.racks[bspec.site] = _Racks(p, site, p.site_specs[bspec.site], loc, dc)


def _plan_catalogue(p: _Planner) -> None:
    b = p.plan.batches
    for name, slug in cat.MANUFACTURERS:
        p.manufacturers[slug] = b["manufacturers"].add(Manufacturer(name=name, slug=slug))
    for spec in cat.DEVICE_TYPES:
        dtype = b["device_types"].add(DeviceType(
            manufacturer=p.manufacturers[spec.manufacturer], model=spec.model, slug=spec.slug,
            part_number=spec.part_number, u_height=spec.u_height, is_full_depth=spec.full_depth,
        ))
        p.types[spec.slug] = dtype
        for if_name, if_type, mgmt in cat.INTERFACE_PROFILES[spec.profile]:
            b["interface_templates"].add(InterfaceTemplate(device_type=dtype, name=if_name, type=if_type,
                                                           mgmt_only=mgmt))
    for name, slug, color, vm_role, description in cat.DEVICE_ROLES:
        p.roles[slug] = b["device_roles"].add(DeviceRole(name=name, slug=slug, color=color, vm_role=vm_role,
                                                         description=description))
    for name, slug, manufacturer in cat.PLATFORMS:
        p.platforms[slug] = b["platforms"].add(Platform(
            name=name, slug=slug, manufacturer=p.manufacturers[manufacturer] if manufacturer else None,
        ))


def _plan_clusters(p: _Planner) -> None:
    b = p.plan.batches
    types = {slug: b["cluster_types"].add(ClusterType(name=name, slug=slug, description=d))
             for name, slug, d in cat.CLUSTER_TYPES}
    groups = {slug: b["cluster_groups"].add(ClusterGroup(name=name, slug=slug, description=d))
              for name, slug, d in cat.CLUSTER_GROUPS}
    for spec in cat.CLUSTERS:
        copies = p.scale if spec.scaled else 1
        p.clusters[spec.name] = [
            b["clusters"].add(Cluster(
                name=spec.name if k == 1 else f"{spec.name}-{k:02d}", type=types[spec.type], group=groups[spec.group],
                site=p.sites[spec.site], tenant=p.tenant(cat.CC), owner=p.team("platform" if spec.type == "kubernetes"
                                                                                 else "server"),
                criticality=spec.criticality, status=LifecycleStatus.ACTIVE, description=spec.description,
                last_seen=p.now,
            ), [p.tags["monitoring"]])
            for k in range(1, copies + 1)
        ]


def _server_status(rng: random.Random, group: cat.ServerGroup) -> str:
    if group.name.startswith("legacy"):
        return rng.choices(["active", "maintenance", "retired"], [5, 2, 3])[0]
    if group.scaled and group.cluster is None:
        return rng.choices(["active", "planned", "retired"], [92, 4, 4])[0]
    return "active"


def _plan_servers(p: _Planner) -> None:
    rng = p.rng("servers")
    for group in cat.SERVER_GROUPS:
        if group.count == 0:  # the per-faculty group
            members = [(slug, p.tenant_specs[slug].home, n) for slug, n in cat.FACULTY_SERVERS.items()]
        else:
            members = [(group.tenant, group.site, group.count)]
        for tenant, site, count in members:
            total = count * (p.scale if group.scaled else 1)
            width = max(group.width, len(str(total)))
            clusters = p.clusters.get(group.cluster or "", [])
            code = p.tenant_specs[tenant].code
            for i in range(total):
                type_slug = group.device_types[0] if len(group.device_types) == 1 else rng.choices(
                    group.device_types, [3, 1, 3, 3][: len(group.device_types)])[0]
                height = p.type_specs[type_slug].u_height
                cluster = clusters[min(i // count, len(clusters) - 1)] if clusters else None
                p.device(
                    rng, name=_numbered(group.name.replace("{code}", code), i + 1, width), type_slug=type_slug,
                    role=group.role, site=site, tenant=tenant, owner=p.owner(group.owner, tenant),
                    criticality=group.criticality,
                    platform=rng.choice(group.platforms) if group.platforms else None,
                    status=_server_status(rng, group), rack=p.racks[site].place(height), cluster=cluster,
                    tags=group.tags, years=group.years, description=group.description,
                    address=("servers", 10, "data center servers"),
                )


def _plan_network(p: _Planner) -> None:
    rng = p.rng("network")
    cc = cat.CC
    net = p.team("network")
    mgmt = ("mgmt", 0, "network management")
    for spec in cat.SITES:
        site, code = spec.slug, spec.code
        racks = p.racks[site]
        half = len(racks.racks) // 2
        for n in (1, 2):
            p.device(rng, name=f"core-{code}-{n:02d}", type_slug="c9500-48y4c", role="core-switch", site=site,
                     tenant=cc, owner=net, criticality="critical", platform="cisco-ios-xe",
                     rack=racks.top((n - 1) * half), tags=("monitoring", "ansible-managed"), address=mgmt,
                     description=f"Core switch pair {spec.name} (redundancy group core-{site}, 1 of 2 must be up)")
        wlcs = 2 if site == "zittau" else 1
        for n in range(1, wlcs + 1):
            p.device(rng, name=f"wlc-{code}-{n:02d}", type_slug="aruba-7210", role="wlan-controller", site=site,
                     tenant=cc, owner=net, criticality="high", platform="arubaos",
                     rack=racks.top((n - 1) * half + 1 if site == "zittau" else 1), tags=("monitoring",),
                     address=mgmt, description="WLAN controller (eduroam)")
        if site == "zittau":
            for n in (1, 2):
                p.device(rng, name=f"fw-{code}-{n:02d}", type_slug="fortigate-600f", role="firewall", site=site,
                         tenant=cc, owner=net, criticality="critical", platform="fortios",
                         rack=racks.top((n - 1) * half + 2), tags=("monitoring", "dmz"), address=mgmt,
                         description="Perimeter firewall pair (active/passive, 1 of 2 must be up)")
    # Access switches per building: one per 44 wired clients plus one for access points and printers.
    for bspec in cat.BUILDINGS:
        wired = sum(r.clients for r in bspec.rooms) * p.scale
        count = math.ceil(wired / 44) + 1
        vendor = ("c9300-48p", "cisco-ios-xe") if bspec.site == "zittau" else ("ex4400-48p", "junos")
        net_room = next((p.rooms[r.slug] for r in bspec.rooms if r.kind == "network"), p.buildings[bspec.slug])
        for n in range(1, count + 1):
            p.device(rng, name=f"sw-{bspec.slug}-{n:02d}", type_slug=vendor[0], role="access-switch",
                     site=bspec.site, tenant=cc, owner=net, criticality="medium", platform=vendor[1],
                     location=net_room, tags=("monitoring", "ansible-managed"), address=mgmt,
                     description=f"Access switch {bspec.name}")


_POOL_TYPES = ("esprimo-d7012", "thinkcentre-m90q-gen-4", "optiplex-7010")


def _plan_clients(p: _Planner) -> None:
    rng = p.rng("clients")
    client_team = p.team("client")
    for b_index, bspec in enumerate(cat.BUILDINGS):
        space = p.spaces[bspec.site]
        b_in_site = [x.slug for x in cat.BUILDINGS if x.site == bspec.site].index(bspec.slug)
        base = 100 + 10 * b_in_site
        wired = sum(r.clients for r in bspec.rooms) * p.scale
        if wired:
            space.reserve(base, f"{bspec.name} clients (DHCP)", wired, is_pool=True)
        space.reserve(base + 2, f"{bspec.name} WLAN (DHCP)", 200 * p.scale, is_pool=True)
        for r_index, room in enumerate(bspec.rooms):
            if not room.clients:
                continue
            total = room.clients * p.scale
            width = max(2, len(str(total)))
            kind = "tc" if room.client_role == "thin-client" else "pc"
            if room.client_role == "thin-client":
                type_slug = "hp-t640" if room.kind in ("library", "cad") else "futro-s9011"
            else:
                type_slug = _POOL_TYPES[(b_index + r_index) % len(_POOL_TYPES)]
            exam = room.kind == "pool" and room.tenant == cat.CC
            owner = client_team if room.tenant == cat.CC else p.tech[room.tenant]
            for i in range(total):
                p.device(rng, name=f"{room.slug}-{kind}{i + 1:0{width}d}", type_slug=type_slug,
                         role=room.client_role, site=bspec.site, tenant=room.tenant, owner=owner,
                         criticality="medium" if exam or room.kind == "cad" else "low", platform=room.platform,
                         location=p.rooms[room.slug], tags=("exam-critical",) if exam else (), years=(2020, 2025),
                         warranty=4, description=room.name)
        for i in range(bspec.printers * p.scale):
            p.device(rng, name=f"prn-{bspec.slug}-{i + 1:02d}",
                     type_slug=rng.choice(("laserjet-m611dn", "color-laserjet-m555dn")), role="printer",
                     site=bspec.site, tenant=cat.CC, owner=client_team, criticality="low",
                     location=p.buildings[bspec.slug], tags=("monitoring",), years=(2019, 2025), warranty=3,
                     address=(f"printers-{bspec.slug}", base + 1, f"{bspec.name} printers"))
    laptop_types = ("thinkpad-t14-gen-4", "latitude-5440", "elitebook-840-g10")
    for spec in cat.TENANTS:
        total = spec.laptops * p.scale
        width = max(3, len(str(total)))
        for i in range(total):
            status = rng.choices(["active", "planned", "retired"], [94, 3, 3])[0]
            linux = spec.slug == "faculty-eecs" and rng.random() < 0.2
            p.device(rng, name=f"nb-{spec.code}-{i + 1:0{width}d}", type_slug=rng.choices(laptop_types, [5, 3, 2])[0],
                     role="laptop", site=spec.home, tenant=spec.slug, owner=p.tech[spec.slug], criticality="low",
                     platform="ubuntu-2404" if linux else "windows-11", status=status, years=(2020, 2025),
                     warranty=4, description="Staff laptop")


def _faculty_vm_groups(p: _Planner) -> list[tuple[cat.VMGroup, str]]:
    groups: list[tuple[cat.VMGroup, str]] = []
    for slug, (labs, projects) in cat.FACULTY_VMS.items():
        spec = p.tenant_specs[slug]
        c = spec.code
        place = spec.home
        for g in (
            cat.VMGroup(f"{c}-web", slug, 2, 2, 4, 40, "debian-12", "medium", ("monitoring", "backup", "dmz"), place,
                        "dmz", "server", "Faculty web site", "tenant"),
            cat.VMGroup(f"{c}-fs", slug, 1, 4, 16, 2000, "windows-server-2022", "medium", ("monitoring", "backup"),
                        place, "faculty", "server", "Faculty file server", "tenant"),
            cat.VMGroup(f"{c}-db", slug, 1, 4, 16, 200, "debian-12", "medium", ("monitoring", "backup"), place,
                        "faculty", "database-server", "Faculty database", "tenant"),
            cat.VMGroup(f"{c}-lic", slug, 1, 2, 4, 40, "windows-server-2022", "medium", ("monitoring",), place,
                        "faculty", "server", "Faculty license server", "tenant"),
            # Lab and project VMs are many and unimportant: spread over both campuses to balance the clusters.
            cat.VMGroup(f"{c}-lab", slug, labs, 0, 0, 0, "", "low", ("monitoring",), "both", "faculty", "server",
                        "Lab and teaching VM", "tenant"),
            cat.VMGroup(f"{c}-proj", slug, projects, 0, 0, 0, "", "low", (), "both", "faculty", "server",
                        "Student project VM", "tenant"),
        ):
            groups.append((g, "faculty"))
    return groups


_VM_NETS = {"services": (32, "server VMs (central services)"), "dmz": (48, "DMZ VMs"),
            "faculty": (64, "server VMs (faculties)")}


def _plan_vms(p: _Planner) -> None:
    rng = p.rng("vms")
    b = p.plan.batches
    site_clusters: dict[str, list[Cluster]] = defaultdict(list)
    for spec in cat.CLUSTERS:
        if spec.vm_host:
            site_clusters[spec.site].extend(p.clusters[spec.name])
    placed: dict[str, int] = defaultdict(int)  # VMs per site so far (round robin over clusters)
    per_host: dict[int, int] = defaultdict(int)
    groups = [(g, "central") for g in cat.VM_GROUPS] + _faculty_vm_groups(p)
    for group, kind in groups:
        total = group.count * p.scale
        width = max(2, len(str(total)))
        for i in range(total):
            # "both": alternate campuses so every redundant pair has one member on each.
            site = group.placement if group.placement != "both" else ("zittau", "goerlitz")[i % 2]
            clusters = site_clusters[site]
            cluster = clusters[placed[site] % len(clusters)]
            placed[site] += 1
            hosts = p.hosts[id(cluster)]
            host = hosts[per_host[id(cluster)] % len(hosts)]
            per_host[id(cluster)] += 1
            if kind == "faculty" and group.vcpus == 0:
                vcpus, mem, disk = rng.choice((2, 2, 4, 4, 8)), rng.choice((4, 8, 8, 16)), rng.choice((40, 80, 200))
                platform = rng.choice(("ubuntu-2404", "ubuntu-2404", "debian-12", "ubuntu-2204", "windows-server-2022"))
                status = rng.choices(["active", "planned", "retired"], [90, 5, 5])[0] if "-proj" in group.prefix \
                    else "active"
            else:
                vcpus, mem, disk, platform, status = group.vcpus, group.memory_gb, group.disk_gb, group.platform, \
                    "active"
            name = f"{group.prefix}{i + 1:0{width}d}"
            tenant = p.tenant(group.tenant)
            vm = b["vms"].add(VirtualMachine(
                name=name, cluster=cluster, site=cluster.site, device=host, role=p.roles[group.role],
                platform=p.platforms[platform], tenant=tenant, owner=p.owner(group.owner, group.tenant),
                criticality=group.criticality, status=status, vcpus=Decimal(vcpus), memory=mem * 1024, disk=disk,
                last_seen=p.last_seen(rng, status), description=group.description,
            ), [p.tags[t] for t in group.tags])
            windows = platform.startswith("windows")
            iface = b["vm_interfaces"].add(VMInterface(
                virtual_machine=vm, name="Ethernet0" if windows else "eth0",
                mac_address=p.mac("vmware" if cluster.type.slug == "vmware-vsphere" else "proxmox"),
            ))
            prefer, label = _VM_NETS[group.net]
            ip = b["ip_addresses"].add(IPAddress(
                address=p.spaces[site].address(f"vm-{group.net}", prefer, label), family=4, tenant=tenant,
                vminterface=iface, dns_name=f"{name}.{cat.DOMAIN}", status="active",
            ))
            p.plan.primary.append((vm, ip))


_JOURNAL = [
    ("stor-zi-01", "success", "Controller firmware updated to 3.6; non-disruptive, both nodes healthy."),
    ("stor-gr-01", "info", "Replication from stor-zi-01 verified after the network change on the core."),
    ("core-zi-01", "warning", "PSU 2 reported failure; replacement under contract, pair still redundant."),
    ("core-zi-02", "success", "IOS-XE upgraded to 17.12 in the maintenance window."),
    ("fw-zi-01", "info", "HA failover test passed (fw-zi-02 took over within 2 s)."),
    ("esx-zi-03", "danger", "Host crashed (PSOD, memory error); VMs restarted by HA. DIMM B4 replaced."),
    ("bkp-gr-01", "info", "Capacity at 71 %; expansion shelf budgeted for next year."),
    ("db-zi-01", "warning", "Redo log disk latency high during enrolment peak; under observation."),
    ("vdi-gr-gpu01", "success", "vGPU driver updated for the new CAD software release."),
    ("legacy-zi-01", "info", "Migration to a VM planned for the next semester break."),
]


def _plan_journal(p: _Planner) -> None:
    device_type = ContentType.objects.get_for_model(Device)
    for name, kind, text in _JOURNAL:
        device = p.devices_by_name.get(name)
        if device is not None:
            p.plan.batches["journal"].add(
                JournalEntry(assigned_object_type=device_type, kind=kind, comments=text),
                generic=("assigned_object_id", device),
            )


def build_plan(scale: int = 1, seed: int = DEFAULT_SEED, now: dt.datetime | None = None) -> Plan:
    """The complete demo as unsaved instances; the same arguments always give the same plan.

    ``now`` (default: this minute) is the moment "last seen" times are counted back from, so a
    freshly loaded demo shows only the stale CIs it means to (docs/discovery.md, "In the demo").
    Reads only the content-type table (for generic relations); writes nothing.
    """
    if scale < 1:
        raise ValueError("scale must be at least 1")
    if now is None:
        now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    p = _Planner(scale, seed, now)
    _plan_organisation(p)
    _plan_places(p)
    _plan_catalogue(p)
    _plan_clusters(p)
    _plan_servers(p)
    _plan_network(p)
    _plan_clients(p)
    _plan_vms(p)
    _plan_journal(p)
    for space in p.spaces.values():
        p.plan.batches["prefixes"].objs[:0] = space.containers()
    return p.plan


# --- writing ------------------------------------------------------------------------------


def _resolve_foreign_keys(batch: Batch) -> None:
    """Copy the primary keys of parents saved since planning into the ``<fk>_id`` attributes.

    Django's own ``bulk_create`` would do this, but :func:`cmdb.core.bulk.bulk_create`
    builds the CI registry rows (tenant, owner) from those attributes *before*
    calling it, so without this step the registry would lose tenant and owner.
    """
    fks = [f for f in batch.model._meta.concrete_fields if f.is_relation]
    for obj in batch.objs:
        for f in fks:
            if getattr(obj, f.attname) is None and f.is_cached(obj):
                parent = f.get_cached_value(obj)
                if parent is not None:
                    setattr(obj, f.attname, parent.pk)
                    f.set_cached_value(obj, parent)  # setting the id dropped the cached parent


def _write_batch(batch: Batch) -> None:
    for index, (attname, target) in batch.generic.items():
        setattr(batch.objs[index], attname, target.pk)
    _resolve_foreign_keys(batch)
    bulk.bulk_create(batch.model, batch.objs, tags=batch.tags or None, batch_size=500)


#: For each model with a primary IP: the ORM path from an IP address to its owner.
_IP_OWNER = {Device: "interface__device", VirtualMachine: "vminterface__virtual_machine"}


def _set_primary_ips(plan: Plan) -> None:
    """Point every planned device and VM at its address.

    ``bulk_update`` builds a CASE expression per row in Python, which took
    seconds at larger scales; every demo device and VM has exactly one
    address, so one UPDATE per chunk with a correlated subquery sets the same
    values in the database.  The in-memory objects get the value too, so their
    change records (snapshotted at the end of the block) show it.
    """
    by_model: dict[type[models.Model], list[Any]] = defaultdict(list)
    for obj, ip in plan.primary:
        obj.primary_ip4 = ip
        by_model[type(obj)].append(obj)
    for model, objs in by_model.items():
        ip_of = IPAddress.objects.filter(**{_IP_OWNER[model]: OuterRef("pk")}).order_by("pk").values("pk")[:1]
        for start in range(0, len(objs), 1000):
            chunk = [o.pk for o in objs[start : start + 1000]]
            updated = model._default_manager.filter(pk__in=chunk).update(primary_ip4=Subquery(ip_of))
            assert updated == len(chunk)


def write_plan(plan: Plan, progress: Callable[[str], None] | None = None) -> None:
    """Insert ``plan`` in one transaction with one attributed change record per object.

    ``progress`` is called with the name of each phase as it starts and with
    ``"change log"`` before the records are appended.
    """
    with change_logging(source="demo") as ctx:
        for label, keys in PHASES:
            if progress:
                progress(label)
            for key in keys:
                _write_batch(plan.batches[key])
            if "ip_addresses" in keys:
                _set_primary_ips(plan)
        from cmdb.demo.jobs import load as load_jobs_demo  # config contexts and schedules (jobs branch)

        load_jobs_demo()
        for step in domains.demo_steps("plan"):  # e.g. monitoring's exporters on the demo's servers
            step(plan.seed)
        if progress:
            progress("change log")
        # Flushed here (not by the end of the block) so the progress bar can show the step.
        flush_pending(ctx)


# --- the entry point, and what tests and the command need around it -----------------------


@dataclass
class DemoResult:
    created: bool
    message: str
    counts: dict[str, int] = field(default_factory=dict)


def demo_exists() -> bool:
    """The demo is there once its first site is; the command then changes nothing."""
    return Site.objects.filter(slug=cat.SITES[0].slug).exists()


def generate(scale: int = 1, seed: int = DEFAULT_SEED, progress: Callable[[str], None] | None = None) -> DemoResult:
    """Load the demo unless it is already there (idempotent, so ``cmdb setup`` can always call it)."""
    if demo_exists():
        return DemoResult(False, f"Demo data already present (site {cat.SITES[0].slug!r} exists); nothing changed.",
                          counts())
    if progress:
        progress("planning")
    plan = build_plan(scale, seed)
    write_plan(plan, progress)
    demo_services.extend(seed)  # software, licenses, services and relationships (cmdb/demo/services.py)
    for step in domains.demo_steps("extend"):  # e.g. discovery's agent and scan reports, through the real ingest
        step(seed)
    return DemoResult(True, f"Demo university loaded (scale {scale}, seed {seed}).", counts())


def counts() -> dict[str, int]:
    """What the database holds, in the rows the summary table prints."""
    per_role = Device.objects.order_by().values_list("role__slug").annotate(n=Count("id"))
    roles = dict(per_role.values_list("role__slug", "n"))

    def by(role_set: frozenset[str]) -> int:
        return sum(n for slug, n in roles.items() if slug in role_set)

    return {
        "tenants": Tenant.objects.count(),
        "contacts": Contact.objects.count(),
        "sites": Site.objects.count(),
        "locations": Location.objects.count(),
        "racks": Rack.objects.count(),
        "manufacturers": Manufacturer.objects.count(),
        "device types": DeviceType.objects.count(),
        "devices": Device.objects.count(),
        "  servers": by(SERVER_ROLES),
        "  network devices": by(NETWORK_ROLES),
        "  clients": by(CLIENT_ROLES),
        "  printers": by(PRINTER_ROLES),
        "interfaces": Interface.objects.count(),
        "clusters": Cluster.objects.count(),
        "virtual machines": VirtualMachine.objects.count(),
        "VM interfaces": VMInterface.objects.count(),
        "prefixes": Prefix.objects.count(),
        "IP addresses": IPAddress.objects.count(),
        "tags": Tag.objects.count(),
        "CI registry rows": ConfigurationItem.objects.count(),
        "change records": ObjectChange.objects.count(),
    }


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def plan_digest(plan: Plan) -> str:
    """A fingerprint of the identifying data (names, serials, asset tags, addresses) of a plan."""
    ips = {id(obj): ip.address for obj, ip in plan.primary}
    lines = [f"device|{d.name}|{d.serial}|{d.asset_tag}|{ips.get(id(d), '')}" for d in plan["devices"]]
    lines += [f"vm|{v.name}|{v.cluster.name}|{ips.get(id(v), '')}" for v in plan["vms"]]
    lines += [f"rack|{r.name}|{r.serial}|{r.asset_tag}" for r in plan["racks"]]
    return _digest(lines)


def db_digest() -> str:
    """The same fingerprint as :func:`plan_digest`, read back from the database."""
    lines = [f"device|{n}|{s}|{a}|{ip or ''}" for n, s, a, ip in
             Device.objects.values_list("name", "serial", "asset_tag", "primary_ip4__address")]
    lines += [f"vm|{n}|{c}|{ip or ''}" for n, c, ip in
              VirtualMachine.objects.values_list("name", "cluster__name", "primary_ip4__address")]
    lines += [f"rack|{n}|{s}|{a}" for n, s, a in Rack.objects.values_list("name", "serial", "asset_tag")]
    return _digest(lines)
