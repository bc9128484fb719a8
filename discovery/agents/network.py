"""Network scanner: an nmap sweep of a prefix, then SNMP v2c/v3 of every host that answers.

nmap (the Debian package) finds live hosts, their names, open TCP ports and,
on a local segment as root, MAC addresses; it runs unprivileged too (TCP
connect scan).  SNMP (pysnmp, imported here only) reads the system group
(sysDescr, sysObjectID, sysName), the interface table with MACs, the ENTITY-MIB
serial and LLDP neighbours.  One report per host, source type ``network``:
the weakest source in the default precedence, so it never overrides what an
agent or Ansible read on the machine itself.
"""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from discovery.agents.report import new_report, prune

SYS_DESCR, SYS_OBJECT_ID, SYS_NAME = "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.5.0"
IF_DESCR, IF_MTU, IF_SPEED, IF_MAC, IF_ADMIN = (f"1.3.6.1.2.1.2.2.1.{n}" for n in (2, 4, 5, 6, 7))
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
ENT_SERIAL, ENT_MFG = "1.3.6.1.2.1.47.1.1.1.1.11", "1.3.6.1.2.1.47.1.1.1.1.12"
LLDP_REM_CHASSIS, LLDP_REM_PORT, LLDP_REM_SYSNAME = (f"1.0.8802.1.1.2.1.4.1.1.{n}" for n in (5, 7, 9))
NET_SNMP_LINUX = "1.3.6.1.4.1.8072.3.2.10"


@dataclass
class SnmpOptions:
    port: int = 161
    community: str | None = None
    v3_user: str | None = None
    v3_auth_key: str | None = None
    v3_priv_key: str | None = None
    timeout: float = 2.0

    @classmethod
    def from_args(cls, args: Any) -> SnmpOptions | None:
        if not args.community and not args.v3_user:
            return None
        return cls(port=args.snmp_port, community=args.community, v3_user=args.v3_user,
                   v3_auth_key=args.v3_auth_key, v3_priv_key=args.v3_priv_key, timeout=args.snmp_timeout)


@dataclass
class NmapHost:
    address: str
    hostname: str | None = None
    mac: str | None = None
    vendor: str | None = None
    ports: list[int] = field(default_factory=list)


def nmap_sweep(prefix: str, ports: str = "") -> list[NmapHost]:
    """Live hosts of ``prefix`` (ping sweep, or a TCP connect scan of ``ports``)."""
    nmap = shutil.which("nmap")
    if nmap is None:
        raise RuntimeError("nmap is not installed (Debian package nmap)")
    cmd = [nmap, "-oX", "-", "--host-timeout", "30s"]
    cmd += ["-sT", "-Pn", "-p", ports, "--open"] if ports else ["-sn"]
    out = subprocess.run([*cmd, prefix], capture_output=True, text=True, timeout=3600, check=True).stdout
    hosts = []
    for node in ET.fromstring(out).iter("host"):  # noqa: S314 - nmap's own output
        status = node.find("status")
        if status is not None and status.get("state") != "up":
            continue
        host = NmapHost(address="")
        for addr in node.iter("address"):
            if addr.get("addrtype") in ("ipv4", "ipv6"):
                host.address = addr.get("addr", "")
            elif addr.get("addrtype") == "mac":
                host.mac, host.vendor = addr.get("addr", "").lower(), addr.get("vendor")
        name = node.find("hostnames/hostname")
        if name is not None:
            host.hostname = name.get("name")
        host.ports = [int(p.get("portid", 0)) for p in node.iter("port")
                      if p.find("state") is not None and p.find("state").get("state") == "open"]
        if host.address:
            hosts.append(host)
    return hosts


async def _snmp(address: str, opts: SnmpOptions) -> dict[str, Any] | None:
    from pysnmp.hlapi.v3arch.asyncio import (
        CommunityData,
        ContextData,
        ObjectIdentity,
        ObjectType,
        SnmpEngine,
        UdpTransportTarget,
        UsmUserData,
        get_cmd,
        usmAesCfb128Protocol,
        usmHMACSHAAuthProtocol,
        walk_cmd,
    )

    engine = SnmpEngine()
    if opts.v3_user:
        priv = {"privKey": opts.v3_priv_key, "privProtocol": usmAesCfb128Protocol} if opts.v3_priv_key else {}
        auth = UsmUserData(opts.v3_user, authKey=opts.v3_auth_key, authProtocol=usmHMACSHAAuthProtocol, **priv)
    else:
        # v2c when the operator gives a community (read-only, on a management network); v3 otherwise.
        auth = CommunityData(opts.community or "public", mpModel=1)  # noqa: S508
    target = await UdpTransportTarget.create((address, opts.port), timeout=opts.timeout, retries=1)
    try:
        err, status, _idx, binds = await get_cmd(engine, auth, target, ContextData(),
                                                  *(ObjectType(ObjectIdentity(o)) for o in
                                                    (SYS_DESCR, SYS_OBJECT_ID, SYS_NAME)), lookupMib=False)
        if err or status:
            return None
        values = [None if b[1].__class__.__name__ in ("NoSuchObject", "NoSuchInstance") else b[1] for b in binds]
        result: dict[str, Any] = {"sys_descr": str(values[0]) if values[0] is not None else None,
                                  "sys_object_id": str(values[1]) if values[1] is not None else None,
                                  "sys_name": str(values[2]) if values[2] is not None else None}

        async def walk(oid: str) -> dict[str, Any]:
            rows: dict[str, Any] = {}
            async for err, status, _i, binds in walk_cmd(engine, auth, target, ContextData(),
                                                          ObjectType(ObjectIdentity(oid)), lookupMib=False,
                                                          lexicographicMode=False):
                if err or status:
                    break
                for name, value in binds:
                    rows[str(name)[len(oid) + 1:]] = value
            return rows

        result["tables"] = {oid: await walk(oid) for oid in (IF_DESCR, IF_NAME, IF_MTU, IF_SPEED, IF_MAC, IF_ADMIN,
                                                              ENT_SERIAL, ENT_MFG, LLDP_REM_SYSNAME, LLDP_REM_PORT,
                                                              LLDP_REM_CHASSIS)}
        return result
    finally:
        engine.close_dispatcher()


def snmp_query(address: str, opts: SnmpOptions) -> dict[str, Any] | None:
    return asyncio.run(_snmp(address, opts))


def _mac(value: Any) -> str | None:
    raw = bytes(value.asOctets()) if hasattr(value, "asOctets") else b""
    if len(raw) != 6 or raw == b"\0" * 6:
        return None
    return ":".join(f"{b:02x}" for b in raw)


def _text(value: Any) -> str:
    if hasattr(value, "asOctets"):
        return bytes(value.asOctets()).decode(errors="replace")
    return str(value)


def snmp_report(address: str, snmp: dict[str, Any], nmap_host: NmapHost | None = None) -> dict[str, Any]:
    """One report from SNMP (and nmap) data about one address."""
    t = snmp["tables"]
    linux = (snmp.get("sys_object_id") or "").startswith(NET_SNMP_LINUX)
    report = new_report("network", "network-scanner", kind="host" if linux else "network_device")
    interfaces = []
    neighbours: dict[str, list[dict[str, str]]] = {}
    for key, name in t[LLDP_REM_SYSNAME].items():
        parts = key.split(".")  # timeMark.localPortNum.index
        local = parts[1] if len(parts) >= 3 else parts[0]
        neighbours.setdefault(local, []).append({"system_name": _text(name)[:255],
                                                 "port": _text(t[LLDP_REM_PORT].get(key, ""))[:255]})
    for index, descr in sorted(t[IF_DESCR].items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0):
        iface: dict[str, Any] = {"name": (_text(t[IF_NAME].get(index, "")) or _text(descr))[:64] or f"if{index}"}
        mac = _mac(t[IF_MAC].get(index))
        if mac:
            iface["mac_address"] = mac
        if index in t[IF_MTU] and 0 < int(t[IF_MTU][index]) <= 65536:
            iface["mtu"] = int(t[IF_MTU][index])
        if index in t[IF_SPEED]:
            iface["speed_mbps"] = int(t[IF_SPEED][index]) // 1_000_000
        if index in t[IF_ADMIN]:
            iface["enabled"] = int(t[IF_ADMIN][index]) == 1
        if index in neighbours:
            iface["lldp_neighbors"] = neighbours[index]
        interfaces.append(iface)
    serial = next((s for s in (_text(v).strip() for v in t[ENT_SERIAL].values()) if s), None)
    manufacturer = next((s for s in (_text(v).strip() for v in t[ENT_MFG].values()) if s), None)
    sys_name = snmp.get("sys_name") or (nmap_host.hostname if nmap_host else None)
    macs = sorted({i["mac_address"] for i in interfaces if "mac_address" in i}
                  | ({nmap_host.mac} if nmap_host and nmap_host.mac else set()))
    descr = snmp.get("sys_descr") or ""
    report["identifiers"] = {"serial": serial, "manufacturer": manufacturer, "mac_addresses": macs,
                             "fqdn": sys_name if sys_name and "." in sys_name else None,
                             "hostname": (sys_name or address).split(".")[0] if sys_name else address}
    report["attributes"] = {"hostname": (sys_name or address).split(".")[0] if sys_name else address,
                            "sys_descr": descr[:1000], "sys_object_id": snmp.get("sys_object_id"),
                            "os_name": descr.split()[0][:100] if descr else None,
                            "services": [{"protocol": "tcp", "port": p, "address": address}
                                         for p in (nmap_host.ports if nmap_host else [])]}
    report["interfaces"] = interfaces
    return prune(report)


def nmap_report(host: NmapHost) -> dict[str, Any]:
    report = new_report("network", "network-scanner")
    name = host.hostname or host.address
    report["identifiers"] = {"mac_addresses": [host.mac] if host.mac else [],
                             "fqdn": host.hostname if host.hostname and "." in host.hostname else None,
                             "hostname": name.split(".")[0] if host.hostname else name}
    report["attributes"] = {"hostname": name.split(".")[0] if host.hostname else name,
                            "services": [{"protocol": "tcp", "port": p, "address": host.address} for p in host.ports]}
    return prune(report)


def collect(prefix: str, *, ports: str = "22,80,161,443", snmp: SnmpOptions | None = None) -> list[dict[str, Any]]:
    """Reports for every live host of ``prefix``; without nmap (ports='') every address is tried by SNMP."""
    if ports or shutil.which("nmap"):
        hosts = nmap_sweep(prefix, ports)
    else:
        hosts = [NmapHost(address=str(a)) for a in ipaddress.ip_network(prefix, strict=False)]
    reports = []
    for host in hosts:
        data = snmp_query(host.address, snmp) if snmp is not None else None
        reports.append(snmp_report(host.address, data, host) if data else nmap_report(host))
    return reports
