"""Discovery's demo step: what the agents and a network scan reported about the university.

A sample of the demo's servers and VMs reported by the host agent (so their pages show the
linked discovered host with OS, packages and the reconciliation trail), a few machines a
network scan found that nobody recorded, one VM that went quiet six weeks ago (flagged
stale), and the discovery schedules (network scan disabled until SNMP credentials are set).
Reports go through the real ingest, so identification, precedence, linking and the change
log work on the demo exactly as in production.  Deterministic for a seed; idempotent.  Declared on
the app (``DiscoveryConfig.demo_step``, stage ``extend``): it runs once the core demo is written.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.utils import timezone

from cmdb.dcim.models import Device
from cmdb.virtualization.models import VirtualMachine

#: Debian packages the agent reports on a server, with versions (a few per role below).
BASE_PACKAGES = [("openssh-server", "1:9.2p1-2+deb12u3"), ("chrony", "4.3-2+deb12u1"), ("systemd", "252.30-1~deb12u2"),
                 ("openssl", "3.0.15-1~deb12u1"), ("rsyslog", "8.2302.0-1"), ("prometheus-node-exporter", "1.5.0-1+b6"),
                 ("restic", "0.14.0-1+b5"), ("sudo", "1.9.13p3-1+deb12u1"), ("curl", "7.88.1-10+deb12u8"),
                 ("python3", "3.11.2-1+b1"), ("linux-image-amd64", "6.1.119-1")]
EXTRA_PACKAGES = [("nginx", "1.22.1-9"), ("postgresql-15", "15.10-0+deb12u1"),
                  ("mariadb-server", "1:10.11.6-0+deb12u1"), ("redis-server", "5:7.0.15-1~deb12u1"),
                  ("openjdk-17-jre-headless", "17.0.13+11-2~deb12u1"),
                  ("php8.2-fpm", "8.2.26-1~deb12u1"), ("haproxy", "2.6.12-1+deb12u1"), ("slapd", "2.5.13+dfsg-5"),
                  ("postfix", "3.7.11-0+deb12u1"), ("containerd", "1.6.20~ds1-1+b1")]
DEVICE_SAMPLE, VM_SAMPLE, UNRECORDED = 40, 30, 3


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _software(rng: random.Random) -> list[dict[str, str]]:
    pkgs = BASE_PACKAGES + rng.sample(EXTRA_PACKAGES, rng.randint(1, 4))
    return [{"name": n, "version": v, "package_manager": "dpkg", "architecture": "amd64"} for n, v in pkgs]


def _report(when: dt.datetime, source: tuple[str, str], identifiers: dict[str, Any], attributes: dict[str, Any],
            software: list[dict[str, str]] | None) -> dict[str, Any]:
    report: dict[str, Any] = {"schema_version": "1", "source": {"type": source[0], "name": source[1], "version": "1.0"},
                              "collected_at": _stamp(when), "kind": "host",
                              "identifiers": {k: v for k, v in identifiers.items() if v},
                              "attributes": {k: v for k, v in attributes.items() if v is not None}}
    if software is not None:
        report["software"] = software
    return report


def _device_report(rng: random.Random, device: Device, when: dt.datetime) -> dict[str, Any]:
    macs = sorted({i.mac_address.lower() for i in device.interfaces.all() if i.mac_address})[:2]
    return _report(when, ("agent", "cmdb-host-agent"), {
        "serial": device.serial, "manufacturer": device.manufacturer.name, "mac_addresses": macs,
        "hostname": device.name, "fqdn": f"{device.name}.hszg.example"}, {
        "hostname": device.name, "virtual": False, "os_name": "Debian GNU/Linux", "os_version": "12",
        "kernel": "6.1.0-28-amd64", "cpu_sockets": 2, "cpu_cores": rng.choice([16, 24, 32, 48]),
        "memory_mb": rng.choice([131072, 262144, 524288])}, _software(rng))


def _vm_report(rng: random.Random, vm: VirtualMachine, when: dt.datetime) -> dict[str, Any]:
    macs = sorted({i.mac_address.lower() for i in vm.interfaces.all() if i.mac_address})[:2]
    bits = [rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(48)]
    uuid = f"{bits[0]:08x}-{bits[1]:04x}-{bits[2]:04x}-{bits[3]:04x}-{bits[4]:012x}"
    return _report(when, ("agent", "cmdb-host-agent"), {
        "system_uuid": uuid, "mac_addresses": macs, "hostname": vm.name, "fqdn": f"{vm.name}.hszg.example"}, {
        "hostname": vm.name, "virtual": True, "os_name": "Debian GNU/Linux", "os_version": "12",
        "kernel": "6.1.0-28-cloud-amd64", "cpu_cores": rng.choice([2, 4, 8]),
        "memory_mb": rng.choice([4096, 8192, 16384])}, _software(rng))


def extend(seed: int = 20240501) -> int:
    """Ingest the demo's discovery reports and add its schedules; returns the number of reports."""
    from discovery.models import Host
    from discovery.services import ingest_report
    from discovery.staleness import flag_stale

    if Host.objects.exists():
        return 0
    rng = random.Random(seed + 5)
    now = timezone.now().replace(microsecond=0)
    from cmdb.demo.generator import SERVER_ROLES

    servers = list(Device.objects.filter(status="active", role__slug__in=SERVER_ROLES).exclude(serial="")
                   .select_related("manufacturer").prefetch_related("interfaces").order_by("pk"))
    vms = list(VirtualMachine.objects.filter(status="active").prefetch_related("interfaces").order_by("pk"))
    reports = [_device_report(rng, d, now - dt.timedelta(minutes=rng.randint(5, 600)))
               for d in rng.sample(servers, min(DEVICE_SAMPLE, len(servers)))]
    chosen_vms = rng.sample(vms, min(VM_SAMPLE, len(vms)))
    reports += [_vm_report(rng, vm, now - dt.timedelta(minutes=rng.randint(5, 600))) for vm in chosen_vms[1:]]
    for n in range(UNRECORDED):  # found by the nightly scan, recorded nowhere: someone's forgotten box
        mac = f"02:42:0a:14:{rng.randrange(256):02x}:{n:02x}"
        reports.append(_report(now - dt.timedelta(hours=6), ("network", "nmap-snmp"),
                               {"mac_addresses": [mac], "hostname": f"unknown-{n + 1:02d}"},
                               {"hostname": f"unknown-{n + 1:02d}", "os_name": "Linux"}, None))
    for report in reports:
        ingest_report(report, now=now)
    if chosen_vms:  # last heard of six weeks ago: flagged stale, never deleted
        old = now - dt.timedelta(days=42)
        ingest_report(_vm_report(rng, chosen_vms[0], old), now=old)
        flag_stale(now=now)
    _agree_last_seen()
    _schedules()
    return len(reports) + (1 if chosen_vms else 0)


def _agree_last_seen() -> None:
    """A linked device or VM was last seen when its discovered host last reported.

    The core demo plans "last seen" times of its own; for the machines the agent reports, the
    device's page and the host's must not tell two stories (the quiet VM above included: its
    record is as stale as its host).  Two UPDATEs on the CI registry, through the typed rows.
    """
    from django.db.models import OuterRef, Subquery

    from cmdb.core.models.registry import ConfigurationItem
    from discovery.models import Host

    for field, model in (("device", Device), ("virtual_machine", VirtualMachine)):
        seen = Host.objects.filter(**{field: OuterRef("pk")}).order_by("-last_seen").values("last_seen")[:1]
        model.objects.filter(pk__in=Host.objects.filter(**{f"{field}__isnull": False}).values(field)).update(
            last_seen=Subquery(seen))
        linked = model.objects.filter(ci_id=OuterRef("pk")).values("last_seen")[:1]
        ConfigurationItem.objects.filter(
            pk__in=model.objects.filter(pk__in=Host.objects.values(field)).values("ci_id")).update(
            last_seen=Subquery(linked))


def _schedules() -> None:
    from cmdb.core.context import change_logging
    from cmdb.ipam.models import Prefix
    from cmdb.jobs.models import Schedule

    with change_logging(source="demo-discovery"):
        prefix = Prefix.objects.filter(prefix__endswith="/24").order_by("pk").first()
        if prefix is not None and not Schedule.objects.filter(name="Nightly network discovery").exists():
            Schedule(name="Nightly network discovery", job_name="discovery.network", cron="0 1 * * *",
                     kwargs={"prefix": str(prefix.prefix), "community_from": "env:CMDB_SNMP_COMMUNITY"}, enabled=False,
                     description="nmap + SNMP v2c of a server network; set CMDB_SNMP_COMMUNITY on the worker, "
                                 "then enable").validated_save()
        if not Schedule.objects.filter(name="Daily staleness check").exists():
            Schedule(name="Daily staleness check", job_name="discovery.stale", cron="0 6 * * *", kwargs={},
                     description="Flag discovered hosts not reported for STALE_DAYS").validated_save()
