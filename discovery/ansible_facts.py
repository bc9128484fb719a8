"""Agentless discovery: Ansible's ``setup`` module through ansible-runner, facts turned into reports.

``collect(inventory=...)`` runs ``setup`` against every host of the inventory
(a file, a directory, or inventory text) and builds one report per host that
answered, source type ``ansible``.  Facts are read from the runner's
``runner_on_ok`` events, so no fact cache needs configuring.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from discovery.report import new_report, prune

_SIZE = re.compile(r"([\d.]+)\s*([KMGTP]B)")
_VIRTUAL_NICS = ("veth", "br", "docker", "virbr", "vnet", "bond", "tap", "tun", "cni", "flannel", "lo")
_UNITS = {"KB": 1e-6, "MB": 1e-3, "GB": 1, "TB": 1e3, "PB": 1e6}


def _gb(text: str) -> float | None:
    m = _SIZE.search(text or "")
    return round(float(m.group(1)) * _UNITS[m.group(2)], 1) if m else None


def facts_report(facts: dict[str, Any]) -> dict[str, Any]:
    f = facts
    report = new_report("ansible", "ansible-facts")
    interfaces, macs = [], []
    for name in f.get("ansible_interfaces") or []:
        data = f.get(f"ansible_{name.replace('-', '_')}") or {}
        iface: dict[str, Any] = {"name": name[:64]}
        mac = (data.get("macaddress") or "").lower()
        if re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac) and mac != "00:00:00:00:00:00":
            iface["mac_address"] = mac
            if data.get("type") == "ether" and not name.startswith(_VIRTUAL_NICS):
                macs.append(mac)
        if isinstance(data.get("mtu"), int):
            iface["mtu"] = data["mtu"]
        if "active" in data:
            iface["enabled"] = bool(data["active"])
        addrs = []
        if isinstance(data.get("ipv4"), dict) and data["ipv4"].get("address"):
            addrs.append(f"{data['ipv4']['address']}/{data['ipv4'].get('prefix', '32')}")
        addrs += [f"{a['address']}/{a.get('prefix', '128')}" for a in data.get("ipv6") or [] if a.get("address")]
        iface["addresses"] = addrs
        interfaces.append(iface)
    processor = f.get("ansible_processor") or []
    model = processor[2] if len(processor) > 2 else (processor[-1] if processor else None)
    bad = {"NA", "None", "To Be Filled By O.E.M.", "Not Specified", ""}
    serial = f.get("ansible_product_serial")
    uuid = (f.get("ansible_product_uuid") or "").lower()
    report["identifiers"] = {
        "serial": serial if serial not in bad else None,
        "manufacturer": f.get("ansible_system_vendor") if f.get("ansible_system_vendor") not in bad else None,
        "system_uuid": uuid if re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", uuid) else None,
        "mac_addresses": sorted(set(macs)),
        "fqdn": f.get("ansible_fqdn") if "." in (f.get("ansible_fqdn") or "") else None,
        "hostname": f.get("ansible_hostname"),
    }
    report["attributes"] = {
        "hostname": f.get("ansible_hostname"),
        "manufacturer": report["identifiers"]["manufacturer"],
        "product": f.get("ansible_product_name") if f.get("ansible_product_name") not in bad else None,
        "virtual": f.get("ansible_virtualization_role") == "guest",
        "os_name": f.get("ansible_distribution"),
        "os_version": f.get("ansible_distribution_version"),
        "kernel": f.get("ansible_kernel"),
        "cpu_model": model,
        "cpu_sockets": f.get("ansible_processor_count"),
        "cpu_cores": (f.get("ansible_processor_cores") or 0) * (f.get("ansible_processor_count") or 1) or None,
        "memory_mb": f.get("ansible_memtotal_mb"),
        "disks": [{"name": name, **({"size_gb": _gb(d.get("size"))} if _gb(d.get("size")) is not None else {})}
                  for name, d in sorted((f.get("ansible_devices") or {}).items())
                  if not name.startswith(("loop", "ram", "dm-", "sr", "zram"))],
    }
    report["interfaces"] = interfaces
    return prune(report)


def collect(*, inventory: str, pattern: str = "all", timeout: int = 600) -> list[dict[str, Any]]:
    import ansible_runner

    facts: dict[str, dict[str, Any]] = {}

    def on_event(event: dict[str, Any]) -> bool:
        data = event.get("event_data") or {}
        if event.get("event") == "runner_on_ok" and "ansible_facts" in (data.get("res") or {}):
            facts[data.get("host", "")] = data["res"]["ansible_facts"]
        return True

    inv = str(Path(inventory).resolve()) if Path(inventory).exists() else inventory
    # ansible's commands live beside the interpreter in a virtualenv; keep them reachable.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    with tempfile.TemporaryDirectory(prefix="cmdb-ansible-") as tmp:
        ansible_runner.run(private_data_dir=tmp, inventory=inv, host_pattern=pattern, module="setup",
                           quiet=True, event_handler=on_event, timeout=timeout,
                           envvars={"PATH": path, "ANSIBLE_HOST_KEY_CHECKING": "False"})
    return [facts_report(f) for _host, f in sorted(facts.items())]
