"""Builders for the real rows tests read, filter and change (ORM, no mocks): one builder per object.

Every builder creates its object through the model's own ``save()``, so the CI registry and the
change log stay consistent, exactly as other writers do.  The objects that other objects merely
point at (tenant, site, manufacturer, device type, device role) are fetched by name when they exist,
so a test may ask for ``site("Zittau")`` twice and get one site; everything else is always new.
``world()`` builds a small, fixed data set used by the read and filter tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.text import slugify

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
from cmdb.extras.models import Tag
from cmdb.ipam.models import IPAddress, Prefix
from cmdb.tenancy.models import Contact, ContactAssignment, ContactRole, Tenant, TenantGroup
from cmdb.virtualization.models import Cluster, ClusterGroup, ClusterType, VirtualMachine, VMInterface


def _save(obj: Any) -> Any:
    obj.save()
    return obj


def _named(model: type[models.Model], name: str, **extra: Any) -> Any:
    """The ``model`` row called ``name``, created (with its slug and ``extra``) when there is none."""
    found = model._default_manager.filter(name=name).first()
    return found if found is not None else _save(model(name=name, slug=slugify(name), **extra))


def tenant_group(name: str = "Faculties", **extra: Any) -> TenantGroup:
    return _save(TenantGroup(name=name, slug=slugify(name), **extra))


def tenant(name: str = "Informatik", **extra: Any) -> Tenant:
    return _named(Tenant, name, **extra)


def site(name: str = "Zittau", **extra: Any) -> Site:
    return _named(Site, name, **extra)


def location(name: str, *, at: Site, **extra: Any) -> Location:
    return _save(Location(name=name, slug=slugify(name), site=at, **extra))


def rack(name: str = "R1", *, at: Site | None = None, **extra: Any) -> Rack:
    return _save(Rack(name=name, site=at or site(), **extra))


def manufacturer(name: str = "Dell", **extra: Any) -> Manufacturer:
    return _named(Manufacturer, name, **extra)


def device_type(model: str = "PowerEdge R650", *, maker: Manufacturer | None = None, interfaces: tuple[str, ...] = (),
                **extra: Any) -> DeviceType:
    """The type ``model`` of ``maker`` (default Dell); a new type gets ``interfaces`` as interface templates."""
    maker = maker or manufacturer()
    found = DeviceType.objects.filter(manufacturer=maker, model=model).first()
    if found is not None:
        return found
    dt = _save(DeviceType(manufacturer=maker, model=model, slug=slugify(model), **extra))
    for name in interfaces:
        _save(InterfaceTemplate(device_type=dt, name=name))
    return dt


def role(name: str = "Server", **extra: Any) -> DeviceRole:
    return _named(DeviceRole, name, **extra)


def platform(name: str = "Debian", **extra: Any) -> Platform:
    return _save(Platform(name=name, slug=slugify(name), **extra))


def device(name: str, *, at: Site | None = None, dtype: DeviceType | None = None, as_role: DeviceRole | None = None,
           save: bool = True, **extra: Any) -> Device:
    """A device in ``at`` (default Zittau) of ``dtype`` (default the R650) with ``as_role`` (default Server).

    ``save=False`` returns it unsaved, for tests of validation that must see the write refused.
    """
    obj = Device(name=name, site=at or site(), device_type=dtype or device_type(), role=as_role or role(), **extra)
    return _save(obj) if save else obj


def interface(name: str, *, on: Device, **extra: Any) -> Interface:
    return _save(Interface(device=on, name=name, **extra))


def ip(address: str, **extra: Any) -> IPAddress:
    return _save(IPAddress(address=address, **extra))


def prefix(value: str, **extra: Any) -> Prefix:
    return _save(Prefix(prefix=value, **extra))


def tag(name: str, **extra: Any) -> Tag:
    return _save(Tag(name=name, slug=slugify(name), **extra))


def cluster_type(name: str = "Proxmox VE") -> ClusterType:
    return _save(ClusterType(name=name, slug=slugify(name)))


def cluster_group(name: str = "Production") -> ClusterGroup:
    return _save(ClusterGroup(name=name, slug=slugify(name)))


def cluster(name: str, *, of_type: ClusterType, **extra: Any) -> Cluster:
    return _save(Cluster(name=name, type=of_type, **extra))


def vm(name: str, **extra: Any) -> VirtualMachine:
    return _save(VirtualMachine(name=name, **extra))


def vminterface(name: str, *, on: VirtualMachine, **extra: Any) -> VMInterface:
    return _save(VMInterface(virtual_machine=on, name=name, **extra))


def contact_role(name: str = "Owner") -> ContactRole:
    return _save(ContactRole(name=name, slug=slugify(name)))


def contact(name: str, **extra: Any) -> Contact:
    return _save(Contact(name=name, **extra))


@dataclass
class World:
    """A small fixed data set: two sites, two roles, tagged devices, IPs, a cluster with VMs."""

    tenant_a: Tenant
    tenant_b: Tenant
    zittau: Site
    goerlitz: Site
    dell: Manufacturer
    r650: DeviceType
    server: DeviceRole
    switch: DeviceRole
    debian: Platform
    rack1: Rack
    devices: dict[str, Device]
    tags: dict[str, Tag]
    cluster: Cluster
    vms: dict[str, VirtualMachine]
    ips: dict[str, IPAddress]


def world() -> World:
    tenant_a = tenant("Informatik")
    tenant_b = tenant("Mathematik")
    zittau = site("Zittau", facility="ZI-1", time_zone="Europe/Berlin", tenant=tenant_a)
    goerlitz = site("Goerlitz", facility="", time_zone="Europe/Berlin")
    dell = manufacturer("Dell")
    r650 = device_type("PowerEdge R650", maker=dell, interfaces=("eth0", "eth1"))
    server, switch = role("Server"), role("Switch", vm_role=False)
    debian = platform("Debian")
    rack1 = rack("R1", at=zittau, u_height=42)
    red, blue = tag("Red"), tag("Blue")
    devices = {
        "web01": device("web01", at=zittau, dtype=r650, as_role=server, platform=debian, serial="SN-WEB01",
                        tenant=tenant_a, description="Web frontend", rack=rack1, position=10, face="front"),
        "web02": device("web02", at=zittau, dtype=r650, as_role=server, serial="SN-WEB02", tenant=tenant_a,
                        description="web backend"),
        "db01": device("db01", at=goerlitz, dtype=r650, as_role=server, serial="", status="planned",
                       tenant=tenant_b, local_context_data={"ntp": ["10.0.0.1"]}),
        "sw01": device("sw01", at=goerlitz, dtype=r650, as_role=switch, serial="SN-SW01", asset_tag="INV-0001"),
    }
    devices["web01"].tags.set([red, blue])
    devices["web02"].tags.set([red])
    devices["db01"].tags.set([blue])
    eth0 = Interface.objects.get(device=devices["web01"], name="eth0")
    ips = {
        "web01": ip("10.1.0.11/24", interface=eth0, dns_name="web01.example.org"),
        "free": ip("10.1.0.99/24"),
        "v6": ip("2001:db8::11/64", interface=eth0),
    }
    devices["web01"].primary_ip4 = ips["web01"]
    devices["web01"].primary_ip6 = ips["v6"]
    devices["web01"].save()
    ctype = cluster_type()
    clu = cluster("pve-zittau", of_type=ctype, group=cluster_group(), site=zittau)
    vms = {
        "vm-a": vm("vm-a", cluster=clu, vcpus=2, memory=4096, disk=40, tenant=tenant_a),
        "vm-b": vm("vm-b", cluster=clu, vcpus=4, memory=8192, disk=80, status="planned"),
    }
    vif = vminterface("ens18", on=vms["vm-a"])
    ips["vm-a"] = ip("10.2.0.5/24", vminterface=vif)
    return World(tenant_a, tenant_b, zittau, goerlitz, dell, r650, server, switch, debian, rack1, devices,
                 {"red": red, "blue": blue}, clu, vms, ips)


def contact_assignment(w: World) -> ContactAssignment:
    from django.contrib.contenttypes.models import ContentType

    return _save(ContactAssignment(object_type=ContentType.objects.get_for_model(Device),
                                   object_id=w.devices["web01"].pk, contact=contact("Erika Muster"),
                                   role=contact_role("Owner"), priority="primary"))
