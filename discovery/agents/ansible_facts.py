"""Agentless discovery: Ansible's ``setup`` module through ansible-runner, facts turned into reports.

``collect(inventory=...)`` runs a two-task play against every host of the
inventory (a file, a directory, inventory text or an inventory dict): ``setup``
and, unless ``packages=False``, ``package_facts`` (dpkg through python-apt, rpm,
pacman, apk, ...), and builds one report per host that answered, source type
``ansible``.  Facts are read from the runner's ``runner_on_ok`` events
(:func:`facts_from_event`), so no fact cache needs configuring; the Ansible
reconciler (``playbooks``) reads the events of its own check run the same way and hands the
facts to discovery through the core's hook, which turns them into reports with :func:`facts_report`.

:func:`facts_report` turns one host's facts into a report; installed packages
(``ansible_facts.packages``) become its ``software`` list, so agentless discovery
keeps software installations current like the host agent does.  Without
package facts the report has no ``software`` key: unknown, which leaves the
recorded installations alone instead of removing them.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from discovery.agents.report import new_report, prune

_SIZE = re.compile(r"([\d.]+)\s*([KMGTP]B)")
_VIRTUAL_NICS = ("veth", "br", "docker", "virbr", "vnet", "bond", "tap", "tun", "cni", "flannel", "lo")
_UNITS = {"KB": 1e-6, "MB": 1e-3, "GB": 1, "TB": 1e3, "PB": 1e6}


def _gb(text: str) -> float | None:
    m = _SIZE.search(text or "")
    return round(float(m.group(1)) * _UNITS[m.group(2)], 1) if m else None


#: Actions whose ``ansible_facts`` describe the host (``set_fact`` results also carry ``ansible_facts``).
FACT_ACTIONS = frozenset({"setup", "ansible.builtin.setup", "gather_facts", "ansible.builtin.gather_facts",
                          "package_facts", "ansible.builtin.package_facts"})
#: package_facts' ``source`` (the package manager it read) → the report's ``package_manager``.
_MANAGERS = {"apt": "dpkg", "dpkg": "dpkg", "rpm": "rpm"}


def facts_from_event(event: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """``(host, facts)`` from a runner event of a fact-gathering task, else None."""
    data = event.get("event_data") or {}
    if event.get("event") != "runner_on_ok" or data.get("task_action") not in FACT_ACTIONS:
        return None
    facts = (data.get("res") or {}).get("ansible_facts")
    if not isinstance(facts, dict) or not data.get("host"):
        return None
    return str(data["host"]), facts


def packages_software(packages: Any) -> list[dict[str, Any]]:
    """``ansible_facts.packages`` (name → list of installed versions) as report software entries.

    RPM versions are written ``[epoch:]version-release`` like the host agent's ``rpm -qa`` (epoch 0
    left out), so a host reported by both agents keeps one installation per package.
    """
    if not isinstance(packages, dict):
        return []
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for name, installed in packages.items():
        for pkg in installed if isinstance(installed, list) else [installed]:
            if not isinstance(pkg, dict):
                continue
            version = str(pkg.get("version") or "")
            if pkg.get("release"):
                version = f"{version}-{pkg['release']}"
            if pkg.get("epoch") not in (None, "", 0, "0"):
                version = f"{pkg['epoch']}:{version}"
            name_ = str(pkg.get("name") or name)[:100]
            if not name_ or not version:
                continue
            entry: dict[str, Any] = {"name": name_, "version": version[:100],
                                     "package_manager": _MANAGERS.get(str(pkg.get("source") or ""), "other")}
            if pkg.get("arch"):
                entry["architecture"] = str(pkg["arch"])[:20]
            out.setdefault((entry["name"], entry["version"], entry.get("architecture", "")), entry)
    return [out[k] for k in sorted(out)]


def facts_report(facts: dict[str, Any], *, source_name: str = "ansible-facts") -> dict[str, Any]:
    """One host's facts (``setup`` output, plus ``packages`` from ``package_facts`` if gathered) as a report."""
    f = facts
    report = new_report("ansible", source_name)
    interfaces, macs = [], []
    for name in sorted(f.get("ansible_interfaces") or []):  # a stable order: a re-ingest is then a no-op
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
    software = packages_software(f.get("packages")) if "packages" in f else None
    report = prune(report)
    if software is not None:
        report["software"] = software  # after pruning: [] means "nothing installed", not "unknown"
    else:
        report.pop("software", None)
    return report


def collect(*, inventory: str | dict[str, Any], pattern: str = "all", timeout: int = 600, packages: bool = True,
            source_name: str = "ansible-facts", envvars: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Reports for every host of ``inventory`` (matching ``pattern``) that answered."""
    import ansible_runner

    facts: dict[str, dict[str, Any]] = {}

    def on_event(event: dict[str, Any]) -> bool:
        found = facts_from_event(event)
        if found is not None:
            facts.setdefault(found[0], {}).update(found[1])
        return True

    tasks: list[dict[str, Any]] = []
    if packages:
        # A host without a supported package manager still reports its other facts.
        tasks.append({"name": "Installed packages", "ansible.builtin.package_facts": {}, "failed_when": False})
    play = [{"name": "Discovery facts", "hosts": pattern, "gather_facts": True, "tasks": tasks}]
    if isinstance(inventory, str) and "\n" not in inventory and Path(inventory).exists():  # else: inventory text
        inventory = str(Path(inventory).resolve())
    # ansible's commands live beside the interpreter in a virtualenv; keep them reachable.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    with tempfile.TemporaryDirectory(prefix="cmdb-ansible-") as tmp:
        ansible_runner.run(private_data_dir=tmp, inventory=inventory, playbook=play,
                           quiet=True, event_handler=on_event, timeout=timeout,
                           envvars={"PATH": path, "ANSIBLE_HOST_KEY_CHECKING": "False", **(envvars or {})})
    return [facts_report(f, source_name=source_name) for _host, f in sorted(facts.items())
            if "ansible_hostname" in f or "ansible_fqdn" in f]
