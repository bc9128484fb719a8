"""Discovery metrics for /metrics (INTERFACES.md item 3): two queries whatever the number of hosts."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Max, Min, Q
from prometheus_client.core import GaugeMetricFamily, Metric

from discovery.models import Host, IngestRecord


def collect() -> Iterable[Metric]:
    hosts = GaugeMetricFamily("cmdb_discovery_hosts", "Discovered hosts by role and staleness",
                              labels=["role", "stale"])
    stale = GaugeMetricFamily("cmdb_discovery_stale_cis", "Discovered CIs not seen for STALE_DAYS", labels=["role"])
    oldest = GaugeMetricFamily("cmdb_discovery_oldest_last_seen_timestamp_seconds",
                               "Oldest last-seen time of a discovered CI", labels=["role"])
    rows = Host.objects.values("role").annotate(
        total=Count("id"), stale_count=Count("id", filter=Q(stale=True)), oldest=Min("last_seen")).order_by("role")
    for row in rows:
        hosts.add_metric([row["role"], "false"], row["total"] - row["stale_count"])
        hosts.add_metric([row["role"], "true"], row["stale_count"])
        stale.add_metric([row["role"]], row["stale_count"])
        if row["oldest"] is not None:
            oldest.add_metric([row["role"]], row["oldest"].timestamp())
    last = GaugeMetricFamily("cmdb_discovery_last_report_timestamp_seconds",
                             "Time of the last accepted discovery report by source type", labels=["source"])
    for row in IngestRecord.objects.values("source").annotate(last=Max("received")).order_by("source"):
        last.add_metric([row["source"]], row["last"].timestamp())
    return [hosts, stale, oldest, last]
