"""libvirt: a hypervisor and its domains, each domain a VM ``hosted_on`` the hypervisor.

Read-only connection (``libvirt.openReadOnly``); tested with libvirt's built-in
``test:///default`` driver.  The hypervisor's report comes first so that, when
the reports are ingested in order, the VMs' ``hosted_on`` target is known.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from discovery.agents.report import new_report, prune


def _xml(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 - libvirt's own XML


def hypervisor_report(conn: Any) -> dict[str, Any]:
    caps = _xml(conn.getCapabilities())
    model, memory_mb, cpus, _mhz, _nodes, sockets, cores, threads = conn.getInfo()[:8]
    hostname = conn.getHostname()
    uuid = (caps.findtext("host/uuid") or "").lower() or None
    report = new_report("libvirt", "libvirt-agent")
    report["identifiers"] = {"system_uuid": uuid, "hostname": hostname.split(".")[0],
                             "fqdn": hostname if "." in hostname else None}
    report["attributes"] = {"hostname": hostname.split(".")[0], "virtual": False,
                            "cpu_model": caps.findtext("host/cpu/model") or model,
                            "cpu_sockets": sockets * max(_nodes, 1), "cpu_cores": cpus or sockets * cores * threads,
                            "memory_mb": memory_mb,
                            "extra": {"hypervisor": conn.getType(), "libvirt_uri": conn.getURI()}}
    return prune(report)


def domain_report(dom: Any, host_ids: dict[str, Any]) -> dict[str, Any]:
    desc = _xml(dom.XMLDesc(0))
    state, max_kib, _mem, vcpus, _cpu_time = dom.info()
    macs, interfaces, disks = [], [], []
    for n, iface in enumerate(desc.iter("interface")):
        mac = (iface.find("mac").get("address") if iface.find("mac") is not None else "").lower()
        target = iface.find("target")
        entry: dict[str, Any] = {"name": target.get("dev") if target is not None else f"net{n}"}
        if mac:
            entry["mac_address"] = mac
            macs.append(mac)
        interfaces.append(entry)
    for disk in desc.iter("disk"):
        target = disk.find("target")
        if target is not None and disk.get("device", "disk") == "disk":
            disks.append({"name": target.get("dev")})
    report = new_report("libvirt", "libvirt-agent")
    report["identifiers"] = {"system_uuid": dom.UUIDString().lower(), "hostname": dom.name(),
                             "mac_addresses": sorted(set(macs))}
    report["attributes"] = {"hostname": dom.name(), "virtual": True, "cpu_cores": vcpus,
                            "memory_mb": max_kib // 1024, "disks": disks,
                            "extra": {"libvirt_state": state, "domain_id": dom.ID()}}
    report["interfaces"] = interfaces
    report["relationships"] = [{"type": "hosted_on", "target": host_ids}]
    return prune(report)


def collect(uri: str = "qemu:///system") -> list[dict[str, Any]]:
    import libvirt

    conn = libvirt.openReadOnly(uri)
    if conn is None:
        raise RuntimeError(f"cannot connect to {uri}")
    try:
        host = hypervisor_report(conn)
        target = {k: v for k, v in host["identifiers"].items() if k in ("system_uuid", "hostname", "fqdn")}
        return [host, *(domain_report(d, target) for d in conn.listAllDomains())]
    finally:
        conn.close()
