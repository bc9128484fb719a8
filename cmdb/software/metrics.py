"""Prometheus metrics of licenses (collected by the monitoring app's /metrics).

``cmdb_license_seats{license,product,metric,tenant,state="owned|used"}`` and
``cmdb_license_expiry_timestamp_seconds{license}``, from the compliance report
(a constant number of queries whatever the number of installations).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric


def collect() -> Iterable[Metric]:
    from .compliance import compliance

    report = compliance()
    seats = GaugeMetricFamily("cmdb_license_seats", "License seats owned and used (site licenses: used only)",
                              labels=["license", "product", "metric", "tenant", "state"])
    over = GaugeMetricFamily("cmdb_license_overuse_seats", "Seats used beyond what is owned",
                             labels=["license", "product", "metric", "tenant"])
    expiry = GaugeMetricFamily("cmdb_license_expiry_timestamp_seconds", "End of the license term (UTC midnight)",
                               labels=["license", "product", "tenant"])
    for row in report.rows:
        base = [row["name"], row["product"], row["metric"], row["tenant"] or ""]
        if row["owned"] is not None:
            seats.add_metric([*base, "owned"], row["owned"])
        seats.add_metric([*base, "used"], row["used"])
        over.add_metric(base, row["over_use"])
        if row["end_date"]:
            end = dt.datetime.combine(dt.date.fromisoformat(row["end_date"]), dt.time(), tzinfo=dt.UTC)
            expiry.add_metric([row["name"], row["product"], row["tenant"] or ""], end.timestamp())
    return [seats, over, expiry]
