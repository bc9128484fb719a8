"""Bulk-load the benchmark data set; run by ``benchmarks.api`` in a Django subprocess.

Usage (environment: DJANGO_SETTINGS_MODULE, DATABASE_URL, CMDB_DATA_DIR)::

    python -m benchmarks.load --devices 5000 --vms 2000 --out info.json

Writes through the project's bulk service (``cmdb.core.bulk.bulk_create``)
inside one change-logging context, so CI registry rows and hash-chained
change records are written exactly as for any other bulk import.  Because
``bulk_create`` skips ``save()``, the derived fields are set here: a
device's manufacturer, an address's family, a VM's site.  Random choices
use a fixed seed, so every run loads the same data.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

SITES = [("Zittau", "zittau"), ("Görlitz", "goerlitz")]
ROLES = [("Server", "server", True), ("Core switch", "core-switch", False), ("Access switch", "access-switch", False),
         ("Firewall", "firewall", False), ("PC-pool client", "pc-pool-client", True)]
# Weighted: most devices are active.
STATUSES = ["active"] * 6 + ["planned"] * 2 + ["maintenance"] * 2
TENANTS = [("Faculty of Computer Science", "fcs"), ("Faculty of Engineering", "foe"),
           ("Central IT", "central-it"), ("Library", "library")]
RACKS_PER_SITE = 8
INTERFACES_PER_TYPE = 4


def load(devices: int, vms: int, seed: int = 42) -> dict[str, Any]:
    import django

    django.setup()

    from cmdb.core.bulk import bulk_create
    from cmdb.core.context import change_logging
    from cmdb.dcim.models import (
        Device,
        DeviceRole,
        DeviceType,
        Interface,
        InterfaceTemplate,
        Manufacturer,
        Platform,
        Rack,
        Site,
    )
    from cmdb.ipam.models import IPAddress
    from cmdb.tenancy.models import Tenant
    from cmdb.users.services import admin_ensure, token_create
    from cmdb.virtualization.models import Cluster, ClusterType, VirtualMachine, VMInterface

    rng = random.Random(seed)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    with change_logging(source="benchmark"):
        tenants = bulk_create(Tenant, [Tenant(name=n, slug=s) for n, s in TENANTS])
        sites = bulk_create(Site, [Site(name=n, slug=s, status="active") for n, s in SITES])
        racks = bulk_create(Rack, [Rack(name=f"R{r + 1:02d}", site=site, u_height=42)
                                   for site in sites for r in range(RACKS_PER_SITE)])
        racks_by_site: dict[int, list[Any]] = {}
        for rack in racks:
            racks_by_site.setdefault(rack.site_id, []).append(rack)
        makers = bulk_create(Manufacturer, [Manufacturer(name=n, slug=n.lower()) for n in ("Dell", "Juniper", "HP")])
        types = bulk_create(DeviceType, [
            DeviceType(manufacturer=makers[0], model="PowerEdge R650", slug="poweredge-r650", u_height=1),
            DeviceType(manufacturer=makers[0], model="PowerEdge R750", slug="poweredge-r750", u_height=2),
            DeviceType(manufacturer=makers[1], model="EX4400-48T", slug="ex4400-48t", u_height=1),
            DeviceType(manufacturer=makers[2], model="EliteDesk 800", slug="elitedesk-800", u_height=0),
        ])
        bulk_create(InterfaceTemplate, [
            InterfaceTemplate(device_type=dt, name=name, mgmt_only=name == "mgmt0")
            for dt in types for name in ("mgmt0", "eth0", "eth1", "eth2")[:INTERFACES_PER_TYPE]
        ])
        roles = bulk_create(DeviceRole, [DeviceRole(name=n, slug=s, vm_role=vm) for n, s, vm in ROLES])
        platforms = bulk_create(Platform, [Platform(name="Debian 12", slug="debian-12"),
                                           Platform(name="Junos", slug="junos", manufacturer=makers[1])])
        ctype = bulk_create(ClusterType, [ClusterType(name="Proxmox VE", slug="proxmox-ve")])[0]
        clusters = bulk_create(Cluster, [Cluster(name=f"pve-{site.slug}-{k}", type=ctype, site=site)
                                         for site in sites for k in (1, 2)])
        timings["reference data"] = time.perf_counter() - t0

        # --- devices, their interfaces (from the device type's templates) and primary IPs ---
        t = time.perf_counter()
        devs = []
        for i in range(devices):
            site = sites[i % len(sites)]
            dtype = rng.choice(types)
            devs.append(Device(
                name=f"dev-{i:05d}", device_type=dtype, manufacturer_id=dtype.manufacturer_id,
                role=rng.choice(roles), platform=rng.choice([None, *platforms]), site=site,
                rack=rng.choice(racks_by_site[site.pk]), status=rng.choice(STATUSES),
                tenant=rng.choice([None, *tenants]), serial=f"SN{i:08d}",
                description=f"benchmark device {i}",
            ))
        devs = bulk_create(Device, devs)
        timings["devices"] = time.perf_counter() - t
        t = time.perf_counter()
        interfaces = Device.post_create(devs)
        timings["device interfaces"] = time.perf_counter() - t
        t = time.perf_counter()
        first_iface: dict[int, Any] = {}
        for iface in interfaces:
            first_iface.setdefault(iface.device_id, iface)
        ips = bulk_create(IPAddress, [
            IPAddress(address=f"10.1.{i // 250}.{i % 250 + 1}/16", family=4, status="active",
                      interface=first_iface.get(d.pk), tenant_id=d.tenant_id, dns_name=f"{d.name}.example.org")
            for i, d in enumerate(devs)
        ])
        for d, ip in zip(devs, ips, strict=True):
            d.primary_ip4 = ip
        # The create records are snapshotted when the context closes, so they include primary_ip4.
        Device.objects.bulk_update(devs, ["primary_ip4"], batch_size=1000)
        timings["device IPs"] = time.perf_counter() - t

        # --- virtual machines with one interface and a primary IP each ---
        t = time.perf_counter()
        vm_roles = [r for r in roles if r.vm_role]
        vm_objs = []
        for i in range(vms):
            cluster = clusters[i % len(clusters)]
            vm_objs.append(VirtualMachine(
                name=f"vm-{i:05d}", cluster=cluster, site_id=cluster.site_id, role=rng.choice(vm_roles),
                platform=platforms[0], status=rng.choice(STATUSES), tenant=rng.choice([None, *tenants]),
                vcpus=rng.choice([1, 2, 4, 8]), memory=rng.choice([2048, 4096, 8192]), disk=rng.choice([20, 50, 100]),
            ))
        vm_objs = bulk_create(VirtualMachine, vm_objs)
        vifs = bulk_create(VMInterface, [VMInterface(virtual_machine=vm, name="eth0") for vm in vm_objs])
        vips = bulk_create(IPAddress, [
            IPAddress(address=f"10.2.{i // 250}.{i % 250 + 1}/16", family=4, status="active", vminterface=vif,
                      tenant_id=vm.tenant_id)
            for i, (vm, vif) in enumerate(zip(vm_objs, vifs, strict=True))
        ])
        for vm, ip in zip(vm_objs, vips, strict=True):
            vm.primary_ip4 = ip
        VirtualMachine.objects.bulk_update(vm_objs, ["primary_ip4"], batch_size=1000)
        timings["virtual machines"] = time.perf_counter() - t
        t_flush = time.perf_counter()
    timings["change log flush + commit"] = time.perf_counter() - t_flush

    user, _ = admin_ensure("bench", "bench@localhost", "bench-" + os.urandom(12).hex())
    _token, key = token_create(user=user, write_enabled=True, description="benchmark")
    timings["total"] = time.perf_counter() - t0

    from cmdb.core.models import ObjectChange

    # A filter that returns a realistic subset: the most common site/role combination, active.
    site, role = sites[0], roles[0]
    filtered = Device.objects.filter(site=site, role=role, status="active").count()
    return {
        "token": key,
        "site": {"id": site.pk, "slug": site.slug},
        "role": {"id": role.pk, "slug": role.slug},
        "filtered_count": filtered,
        "device_type_ids": [dt.pk for dt in types],
        "role_ids": [r.pk for r in roles],
        "site_ids": [s.pk for s in sites],
        "sample_device_id": devs[len(devs) // 2].pk if devs else None,
        "counts": {
            "devices": Device.objects.count(),
            "interfaces": Interface.objects.count(),
            "ip_addresses": IPAddress.objects.count(),
            "virtual_machines": VirtualMachine.objects.count(),
            "change_records": ObjectChange.objects.count(),
        },
        "timings": {k: round(v, 2) for k, v in timings.items()},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--vms", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, required=True, help="write the JSON summary (token, ids) here")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cmdb.settings")
    info = load(args.devices, args.vms, args.seed)
    args.out.write_text(json.dumps(info, indent=2))
    args.out.chmod(0o600)
    print(json.dumps({k: v for k, v in info.items() if k != "token"}), file=sys.stderr)


if __name__ == "__main__":
    main()
