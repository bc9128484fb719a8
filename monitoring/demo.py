"""Monitoring's demo step: monitoring enabled on the demo's servers, VMs and network devices.

Servers and active VMs get the node exporter, network devices the SNMP
exporter (Prometheus' snmp_exporter, module path ``/snmp``).  Declared on the
app (stage ``plan``), so :func:`cmdb.demo.generator.write_plan` runs it inside
its change-logged transaction; idempotent (existing monitors are kept) and bulk
(two queries to read, one insert per table).
"""

from __future__ import annotations

from cmdb.core import bulk
from cmdb.core.choices import LifecycleStatus
from cmdb.dcim.models import Device
from cmdb.virtualization.models import VirtualMachine
from monitoring.models import ExporterType, Monitor

EXPORTERS = [
    {"name": "Node exporter", "slug": "node", "port": 9100, "metrics_path": "/metrics",
     "description": "prometheus-node-exporter on Linux hosts"},
    {"name": "SNMP exporter", "slug": "snmp", "port": 9116, "metrics_path": "/snmp",
     "description": "snmp_exporter (network devices)"},
]


def _exporters() -> dict[str, ExporterType]:
    existing = {e.slug: e for e in ExporterType.objects.filter(slug__in=[x["slug"] for x in EXPORTERS])}
    missing = [ExporterType(**x) for x in EXPORTERS if x["slug"] not in existing]
    for created in bulk.bulk_create(ExporterType, missing):
        existing[created.slug] = created
    return existing


def enable_monitoring(server_roles: frozenset[str], network_roles: frozenset[str]) -> int:
    """Create the missing monitors; returns how many were added."""
    exporters = _exporters()
    wanted: list[tuple[int, ExporterType]] = []
    devices = Device.objects.filter(role__slug__in=server_roles | network_roles).exclude(
        status__in=[LifecycleStatus.RETIRED, LifecycleStatus.DISPOSED])
    for ci_id, role in devices.order_by("id").values_list("ci_id", "role__slug"):
        wanted.append((ci_id, exporters["node" if role in server_roles else "snmp"]))
    vms = VirtualMachine.objects.filter(status=LifecycleStatus.ACTIVE).order_by("id").values_list("ci_id", flat=True)
    wanted.extend((ci_id, exporters["node"]) for ci_id in vms)
    have = set(Monitor.objects.values_list("ci_id", "exporter_type_id"))
    new = [Monitor(ci_id=ci_id, exporter_type=exp) for ci_id, exp in wanted
           if ci_id is not None and (ci_id, exp.pk) not in have]
    bulk.bulk_create(Monitor, new)
    return len(new)


def demo_step(seed: int) -> int:
    """The demo step (see ``MonitoringConfig.demo_step``): the demo's server and network roles monitored."""
    from cmdb.demo.generator import NETWORK_ROLES, SERVER_ROLES

    return enable_monitoring(SERVER_ROLES, NETWORK_ROLES)
