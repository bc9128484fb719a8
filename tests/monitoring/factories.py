"""A small monitored landscape built through the models' own save() (registry and change log stay right)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cmdb.dcim.models import Device
from cmdb.virtualization.models import VirtualMachine
from monitoring.models import ExporterType, Monitor
from tests import factories as f


@dataclass
class Landscape:
    node: ExporterType
    snmp: ExporterType
    devices: list[Device] = field(default_factory=list)
    vms: list[VirtualMachine] = field(default_factory=list)
    tenants: dict[str, Any] = field(default_factory=dict)
    sites: dict[str, Any] = field(default_factory=dict)


def exporter(slug: str, port: int, **extra: Any) -> ExporterType:
    obj = ExporterType(name=slug.title(), slug=slug, port=port, **extra)
    obj.save()
    return obj


def monitor(ci: Any, exporter_type: ExporterType, **extra: Any) -> Monitor:
    obj = Monitor(ci_id=ci.ci_id, exporter_type=exporter_type, **extra)
    obj.save()
    return obj


def with_ip(obj: Any, address: str, *, dns_name: str = "", v6: bool = False) -> Any:
    ip = f.ip(address, dns_name=dns_name)
    if v6:
        obj.primary_ip6 = ip
    else:
        obj.primary_ip4 = ip
    obj.save()
    return obj


def landscape(servers: int = 3, switches: int = 2, vms: int = 2) -> Landscape:
    """Servers (node exporter) and switches (SNMP) in two sites and two tenants, plus VMs."""
    land = Landscape(node=exporter("node", 9100), snmp=exporter("snmp", 9116, metrics_path="/snmp"))
    land.tenants = {"rz": f.tenant("Rechenzentrum"), "inf": f.tenant("Informatik")}
    land.sites = {"zittau": f.site("Zittau"), "goerlitz": f.site("Goerlitz")}
    maker = f.manufacturer("Dell")
    dtype = f.device_type("PowerEdge R650", maker=maker)
    server_role, switch_role = f.role("Server"), f.role("Access Switch")
    debian = f.platform("Debian")
    for i in range(servers):
        site = land.sites["zittau" if i % 2 == 0 else "goerlitz"]
        tenant = land.tenants["rz" if i % 2 == 0 else "inf"]
        dev = f.device(f"srv{i:02d}", at=site, dtype=dtype, as_role=server_role, tenant=tenant, platform=debian,
                       criticality="high")
        with_ip(dev, f"10.10.0.{i + 10}/24", dns_name=f"srv{i:02d}.example.edu")
        monitor(dev, land.node)
        land.devices.append(dev)
    for i in range(switches):
        dev = f.device(f"sw{i:02d}", at=land.sites["zittau"], dtype=dtype, as_role=switch_role,
                       tenant=land.tenants["rz"])
        with_ip(dev, f"10.10.1.{i + 10}/24")
        monitor(dev, land.snmp)
        land.devices.append(dev)
    ctype = f.cluster_type("Proxmox VE")
    cluster = f.cluster("zittau-prod", of_type=ctype, site=land.sites["zittau"])
    for i in range(vms):
        vm = f.vm(f"vm{i:02d}", cluster=cluster, tenant=land.tenants["inf"])
        with_ip(vm, f"10.10.2.{i + 10}/24")
        monitor(vm, land.node)
        land.vms.append(vm)
    return land
