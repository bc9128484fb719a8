"""The libvirt driver: desktops are domains cloned from the golden image's domain.

A clone is the golden image's domain XML (looked up by the golden image CI's name on the pool's hosts)
with a new name, no UUID and no MAC addresses (libvirt generates fresh ones), the pool's vCPUs and memory,
and, for every file-backed disk in a storage pool, a new volume cloned from the golden one
(``storageVolCreateXMLFrom``).  Without a golden domain a minimal domain of the pool's size is defined.

Connections are opened per host URI (``HostCapacity.uri``) and kept for the driver's life; a host whose
connection fails is *unreachable*: its desktops are reported missing (so the plan replaces them elsewhere)
and nothing is placed on it.  ``libvirt`` (libvirt-python) is imported when a driver is made, so the CMDB
runs without it where no libvirt pool exists.
"""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any


class DriverError(Exception):
    """A hypervisor refused or could not be reached; the message says which and why."""


@dataclass(frozen=True)
class HostTarget:
    device_id: int | None
    name: str
    uri: str


@dataclass(frozen=True)
class Domain:
    name: str
    host: str
    uuid: str
    running: bool


class LibvirtDriver:
    def __init__(self, hosts: list[HostTarget]) -> None:
        import libvirt

        # libvirt's default error handler prints every error to stderr ("Domain not found" for each golden
        # image lookup that misses); the errors reach us as exceptions, which say it where it matters.
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
        self.libvirt = libvirt
        self.hosts = {h.name: h for h in hosts}
        self._conns: dict[str, Any] = {}
        self.unreachable: dict[str, str] = {}

    # --- connections ---------------------------------------------------------------------

    def conn(self, host: str) -> Any:
        if host in self.unreachable:
            raise DriverError(f"{host} is unreachable: {self.unreachable[host]}")
        if host not in self._conns:
            try:
                self._conns[host] = self.libvirt.open(self.hosts[host].uri)
            except self.libvirt.libvirtError as exc:
                self.unreachable[host] = str(exc)
                raise DriverError(f"{host} is unreachable: {exc}") from exc
        return self._conns[host]

    def close(self) -> None:
        for c in self._conns.values():
            with contextlib.suppress(self.libvirt.libvirtError):
                c.close()
        self._conns.clear()

    # --- observe -------------------------------------------------------------------------

    def domains(self, prefix: str) -> dict[str, Domain]:
        """Domains named ``<prefix>...`` on every reachable host."""
        found: dict[str, Domain] = {}
        for host in self.hosts:
            try:
                conn = self.conn(host)
            except DriverError:
                continue
            for dom in conn.listAllDomains():
                name = dom.name()
                if name.startswith(prefix):
                    found[name] = Domain(name, host, dom.UUIDString(), bool(dom.isActive()))
        return found

    # --- changes -------------------------------------------------------------------------

    def clone_xml(self, golden: str, name: str, vcpus: int, memory_mb: int, conn: Any) -> str:
        try:
            source = conn.lookupByName(golden).XMLDesc(0)
        except self.libvirt.libvirtError:
            source = None
        if source is None:
            kind = "test" if conn.getURI().startswith("test:") else "kvm"
            return (f"<domain type='{kind}'><name>{name}</name><memory unit='MiB'>{memory_mb}</memory>"
                    f"<vcpu>{vcpus}</vcpu><os><type>hvm</type></os></domain>")
        root = ET.fromstring(source)  # noqa: S314 - the hypervisor's own domain XML, not user input
        root.find("name").text = name
        for tag in ("uuid",):
            for el in root.findall(tag):
                root.remove(el)
        for iface in root.iter("interface"):
            for mac in iface.findall("mac"):
                iface.remove(mac)
        for tag in ("memory", "currentMemory"):
            el = root.find(tag)
            if el is not None:
                el.text, el.attrib = str(memory_mb * 1024), {"unit": "KiB"}
        vcpu = root.find("vcpu")
        if vcpu is not None:
            vcpu.text = str(vcpus)
        for disk in root.iter("disk"):
            src = disk.find("source")
            path = src.get("file") if src is not None else None
            if not path:
                continue
            src.set("file", self._clone_volume(conn, path, name))
        return ET.tostring(root, encoding="unicode")

    def _clone_volume(self, conn: Any, path: str, name: str) -> str:
        try:
            golden = conn.storageVolLookupByPath(path)
        except self.libvirt.libvirtError as exc:
            raise DriverError(f"the golden image's disk {path} is in no storage pool; cannot clone it") from exc
        pool = golden.storagePoolLookupByVolume()
        vol_name = f"{name}.img"
        with contextlib.suppress(self.libvirt.libvirtError):
            pool.storageVolLookupByName(vol_name).delete(0)  # a leftover of a failed run
        xml = (f"<volume><name>{vol_name}</name><capacity>{golden.info()[1]}</capacity>"
               f"<target><format type='qcow2'/></target></volume>")
        return pool.createXMLFrom(xml, golden, 0).path()

    def create(self, host: str, golden: str, name: str, vcpus: int, memory_mb: int) -> Domain:
        conn = self.conn(host)
        try:
            dom = conn.defineXML(self.clone_xml(golden, name, vcpus, memory_mb, conn))
            dom.create()
        except self.libvirt.libvirtError as exc:
            raise DriverError(f"{host}: {exc}") from exc
        return Domain(name, host, dom.UUIDString(), True)

    def delete(self, host: str, name: str) -> None:
        conn = self.conn(host)
        try:
            dom = conn.lookupByName(name)
        except self.libvirt.libvirtError:
            return  # already gone
        try:
            if dom.isActive():
                dom.destroy()
            dom.undefine()
        except self.libvirt.libvirtError as exc:
            raise DriverError(f"{host}: {exc}") from exc

    def stop(self, host: str, name: str) -> None:
        try:
            dom = self.conn(host).lookupByName(name)
            if dom.isActive():
                dom.destroy()
        except self.libvirt.libvirtError as exc:
            raise DriverError(f"{host}: {exc}") from exc

    def start(self, host: str, name: str) -> None:
        try:
            dom = self.conn(host).lookupByName(name)
            if not dom.isActive():
                dom.create()
        except self.libvirt.libvirtError as exc:
            raise DriverError(f"{host}: {exc}") from exc
