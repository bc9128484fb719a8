"""Prometheus HTTP service discovery (``http_sd_configs``) from the CMDB.

A target is one enabled :class:`~monitoring.models.Monitor` of a device
or virtual machine: the address comes from the CI's primary IPv4, else its
primary IPv6, else the DNS name of a primary address (``?address=dns`` puts
the DNS name first); the port from the monitor or its exporter type.  Targets
without any address are left out.  The typed model's REST filter set filters
the CIs, so ``?site=zittau&role=server&tag=prod`` means what it means on
``/api/dcim/devices/``.  One query yields all targets, streamed in chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from cmdb.dcim.filtersets import DeviceFilterSet
from cmdb.dcim.models import Device
from cmdb.virtualization.filtersets import VirtualMachineFilterSet
from cmdb.virtualization.models import VirtualMachine

from .selectors import CHUNK


@dataclass(frozen=True)
class Source:
    """A CI model that can be a scrape target, its REST filter set and its label columns."""

    model: type
    filterset: type
    labels: dict[str, str]


_COMMON = {"site": "site__slug", "tenant": "tenant__slug", "role": "role__slug", "platform": "platform__slug"}
SOURCES: dict[str, Source] = {
    "devices": Source(Device, DeviceFilterSet, _COMMON),
    "virtual-machines": Source(VirtualMachine, VirtualMachineFilterSet, {**_COMMON, "cluster": "cluster__name"}),
}

_FIXED = ("ci_id", "name", "status", "criticality", "primary_ip4__address", "primary_ip6__address",
          "primary_ip4__dns_name", "primary_ip6__dns_name", "ci__monitors__exporter_type__slug",
          "ci__monitors__exporter_type__port", "ci__monitors__port", "ci__monitors__exporter_type__scheme",
          "ci__monitors__exporter_type__metrics_path")


def target_rows(source: Source, queryset: QuerySet, exporters: list[str]) -> QuerySet:
    """One row per (CI, enabled monitor) of ``queryset``; the joins of the filter are reused by the values."""
    wanted: dict[str, Any] = {"ci__monitors__enabled": True}
    if exporters:
        wanted["ci__monitors__exporter_type__slug__in"] = exporters
    return (queryset.filter(**wanted)
            .order_by("ci_id", "ci__monitors__exporter_type__slug")
            .values_list(*_FIXED, *source.labels.values()))


def _host(ip: str | None) -> str | None:
    return ip.split("/", 1)[0] if ip else None


def address_of(ip4: str | None, ip6: str | None, dns4: str, dns6: str, *, prefer_dns: bool) -> str | None:
    dns = dns4 or dns6 or None
    ip = _host(ip4) or (f"[{_host(ip6)}]" if ip6 else None)
    return (dns or ip) if prefer_dns else (ip or dns)


def targets(source: Source, rows: QuerySet, *, kind: str, prefer_dns: bool = False) -> Iterator[dict[str, Any]]:
    """The SD target groups, one per (CI, exporter); Prometheus' ``labels`` carry the CMDB's view of the CI."""
    label_names = list(source.labels)
    for row in rows.iterator(chunk_size=CHUNK):
        (ci_id, name, status, criticality, ip4, ip6, dns4, dns6, exporter, default_port, port, scheme,
         path) = row[:13]
        address = address_of(ip4, ip6, dns4, dns6, prefer_dns=prefer_dns)
        if address is None:
            continue
        labels = {"ci_id": str(ci_id), "kind": kind, "name": name, "status": status, "criticality": criticality,
                  "exporter": exporter, "__scheme__": scheme, "__metrics_path__": path}
        for label, value in zip(label_names, row[13:], strict=True):
            labels[label] = "" if value is None else str(value)
        yield {"targets": [f"{address}:{port or default_port}"], "labels": labels}
