"""Host agent for Linux: what this machine is, runs and listens on.

Runs unprivileged and reports what it can read: DMI identity from
``/sys/class/dmi/id`` (the serial and UUID need root on most systems, so they
are simply absent otherwise), CPU and memory from ``/proc``, the OS from
``/etc/os-release``, interfaces from ``/sys/class/net`` plus ``ip -j addr``,
packages from dpkg's status file and ``rpm -qa`` when present, listening
sockets from ``/proc/net/{tcp,tcp6,udp,udp6}``, and physical vs. virtual from
the DMI product and ``/proc/cpuinfo``'s hypervisor flag.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

from discovery.agents.report import new_report, prune

ROOT = Path(os.environ.get("DISCOVERY_ROOT", "/"))  # tests point this at a fake tree
_VIRTUAL_PRODUCTS = re.compile(r"kvm|qemu|vmware|virtualbox|virtual machine|hvm domu|bochs|xen|openstack|cloud", re.I)
_BAD_DMI = {"", "none", "not specified", "to be filled by o.e.m.", "default string", "system serial number",
            "0123456789", "00000000-0000-0000-0000-000000000000", "03000200-0400-0500-0006-000700080009"}


def _read(path: str | Path) -> str | None:
    try:
        return (ROOT / str(path).lstrip("/")).read_text(errors="replace").strip()
    except OSError:
        return None


def _dmi(name: str) -> str | None:
    value = _read(f"/sys/class/dmi/id/{name}")
    return None if value is None or value.lower() in _BAD_DMI else value


def os_release() -> dict[str, str]:
    data: dict[str, str] = {}
    for line in (_read("/etc/os-release") or _read("/usr/lib/os-release") or "").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            data[key.strip()] = value.strip().strip('"')
    return data


def cpu_info() -> dict[str, Any]:
    model, sockets, cores, hypervisor = None, set(), set(), False
    for block in (_read("/proc/cpuinfo") or "").split("\n\n"):
        fields = dict((k.strip(), v.strip()) for k, _, v in (ln.partition(":") for ln in block.splitlines()))
        model = model or fields.get("model name") or fields.get("Model")
        phys = fields.get("physical id", "0")
        sockets.add(phys)
        cores.add((phys, fields.get("core id", fields.get("processor"))))
        hypervisor = hypervisor or "hypervisor" in fields.get("flags", "").split()
    return {"cpu_model": model, "cpu_sockets": len(sockets) or None, "cpu_cores": len(cores) or os.cpu_count(),
            "hypervisor_flag": hypervisor}


def memory_mb() -> int | None:
    match = re.search(r"^MemTotal:\s+(\d+)\s+kB", _read("/proc/meminfo") or "", re.M)
    return int(match.group(1)) // 1024 if match else None


def disks() -> list[dict[str, Any]]:
    out = []
    base = ROOT / "sys/block"
    for dev in sorted(base.iterdir()) if base.is_dir() else []:
        if dev.name.startswith(("loop", "ram", "zram", "dm-", "sr")):
            continue
        sectors = _read(f"/sys/block/{dev.name}/size")
        disk: dict[str, Any] = {"name": dev.name}
        if sectors and sectors.isdigit():
            disk["size_gb"] = round(int(sectors) * 512 / 1e9, 1)
        model = _read(f"/sys/block/{dev.name}/device/model")
        if model:
            disk["model"] = model
        rot = _read(f"/sys/block/{dev.name}/queue/rotational")
        if rot in ("0", "1"):
            disk["rotational"] = rot == "1"
        out.append(disk)
    return out


def _ip_addresses() -> dict[str, list[str]]:
    """Addresses per interface from ``ip -j addr`` (iproute2); empty if it is missing."""
    ip = shutil.which("ip")
    if ip is None:
        return {}
    try:
        data = json.loads(subprocess.run([ip, "-j", "addr"], capture_output=True, text=True, timeout=10,
                                         check=True).stdout)
    except (subprocess.SubprocessError, ValueError, OSError):
        return {}
    return {i["ifname"]: [f"{a['local']}/{a['prefixlen']}" for a in i.get("addr_info", []) if "local" in a]
            for i in data if "ifname" in i}


def interfaces() -> list[dict[str, Any]]:
    addresses = _ip_addresses()
    out = []
    base = ROOT / "sys/class/net"
    for dev in sorted(base.iterdir()) if base.is_dir() else []:
        name = dev.name
        iface: dict[str, Any] = {"name": name, "addresses": addresses.get(name, [])}
        mac = (_read(f"/sys/class/net/{name}/address") or "").lower()
        if re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac) and mac != "00:00:00:00:00:00":
            iface["mac_address"] = mac
        mtu = _read(f"/sys/class/net/{name}/mtu")
        if mtu and mtu.isdigit():
            iface["mtu"] = int(mtu)
        state = _read(f"/sys/class/net/{name}/operstate")
        if state:
            iface["enabled"] = state != "down"
        speed = _read(f"/sys/class/net/{name}/speed")
        if speed and speed.isdigit():
            iface["speed_mbps"] = int(speed)
        out.append(iface)
    return out


def physical_macs(ifaces: list[dict[str, Any]]) -> list[str]:
    """MACs of real NICs only: bridges, bonds, veths and tunnels come and go and would mislead identification."""
    macs = []
    for iface in ifaces:
        mac = iface.get("mac_address")
        if mac and (ROOT / f"sys/class/net/{iface['name']}/device").exists():
            macs.append(mac)
    return sorted(set(macs))


def dpkg_packages(path: str = "/var/lib/dpkg/status") -> list[dict[str, Any]]:
    text = _read(path)
    if not text:
        return []
    out = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line[:1] in (" ", "\t"):
                continue
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        if fields.get("Package") and fields.get("Version") and "installed" in fields.get("Status", "").split():
            pkg = {"name": fields["Package"], "version": fields["Version"], "package_manager": "dpkg"}
            if fields.get("Architecture"):
                pkg["architecture"] = fields["Architecture"]
            out.append(pkg)
    return out


def rpm_packages() -> list[dict[str, Any]]:
    rpm = shutil.which("rpm")
    if rpm is None or Path("/") != ROOT:
        return []
    try:
        fmt = r"%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\t%{ARCH}\t%{VENDOR}\n"
        result = subprocess.run([rpm, "-qa", "--qf", fmt], capture_output=True, text=True, timeout=120, check=True)
    except (subprocess.SubprocessError, OSError):
        return []
    out = []
    for line in result.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and not (Path("/var/lib/dpkg/status").exists() and parts[0] == "gpg-pubkey"):
            pkg = {"name": parts[0], "version": parts[1].removeprefix("0:"), "architecture": parts[2],
                   "package_manager": "rpm"}
            if parts[3] and parts[3] != "(none)":
                pkg["vendor"] = parts[3][:100]
            out.append(pkg)
    return out


def _hex_addr(value: str) -> str:
    raw = bytes.fromhex(value)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    # IPv6 in /proc/net is four little-endian 32-bit words.
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


def listening_services() -> list[dict[str, Any]]:
    """TCP sockets in LISTEN state and bound UDP sockets, from /proc/net (no root needed)."""
    seen, out = set(), []
    for proto, files in (("tcp", ("tcp", "tcp6")), ("udp", ("udp", "udp6"))):
        for name in files:
            for line in (_read(f"/proc/net/{name}") or "").splitlines()[1:]:
                cols = line.split()
                if len(cols) < 4:
                    continue
                addr, port = cols[1].rsplit(":", 1)
                if proto == "tcp" and cols[3] != "0A":  # 0A = LISTEN
                    continue
                if proto == "udp" and cols[2].rsplit(":", 1)[1] != "0000":
                    continue
                key = (proto, _hex_addr(addr), int(port, 16))
                if key not in seen:
                    seen.add(key)
                    out.append({"protocol": key[0], "address": key[1], "port": key[2]})
    return sorted(out, key=lambda s: (s["protocol"], s["port"], s["address"]))


def collect() -> dict[str, Any]:
    """The report for the machine this runs on."""
    report = new_report("agent", "host-agent")
    rel = os_release()
    cpu = cpu_info()
    vendor, product = _dmi("sys_vendor"), _dmi("product_name")
    virtual = bool(cpu.pop("hypervisor_flag")) or bool(product and _VIRTUAL_PRODUCTS.search(product)) or bool(
        vendor and _VIRTUAL_PRODUCTS.search(vendor))
    hostname = socket.gethostname()
    fqdn = socket.getfqdn()
    ifaces = interfaces()
    report["identifiers"] = {
        "serial": _dmi("product_serial"),
        "manufacturer": vendor,
        "system_uuid": (_dmi("product_uuid") or "").lower() or None,
        "mac_addresses": physical_macs(ifaces),
        "fqdn": fqdn if "." in fqdn else None,
        "hostname": hostname,
    }
    report["attributes"] = {
        "hostname": hostname, "manufacturer": vendor, "product": product, "virtual": virtual,
        "os_name": rel.get("NAME"), "os_version": rel.get("VERSION_ID") or rel.get("VERSION"),
        "kernel": platform.release(), **cpu, "memory_mb": memory_mb(), "disks": disks(),
        "services": listening_services(),
    }
    report["interfaces"] = ifaces
    report["software"] = dpkg_packages() + rpm_packages()
    return prune(report)
