"""VDI metrics for /metrics: desktops by state per pool, pool sizes and spare targets, capacity headroom per
cluster and resource over the schedule horizon, and licence seats claimed by VDI pools."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric

from cmdb.users.permissions import restrict

from . import capacity, licences
from .models import Desktop, DesktopState, Pool
from .schedule import PoolSpec


def collect(user: Any = None) -> Iterable[Metric]:
    pools = Pool.objects.all()
    desktops = Desktop.objects.all()
    if user is not None:
        pools, desktops = restrict(pools, user), restrict(desktops, user)
    pool_list = list(pools.select_related("gpu_profile"))
    counts = {(p, s): n for p, s, n in desktops.order_by().values_list("pool_id", "state").annotate(n=Count("id"))}
    by_state = GaugeMetricFamily("cmdb_vdi_desktops", "Desktops of a VDI pool, by state.",
                                 labels=["pool", "ci_id", "state"])
    size = GaugeMetricFamily("cmdb_vdi_pool_max_size", "Maximum size of a VDI pool.", labels=["pool", "ci_id"])
    spare = GaugeMetricFamily("cmdb_vdi_pool_spare", "Desktops a VDI pool keeps ready beyond those in use.",
                              labels=["pool", "ci_id"])
    for pool in pool_list:
        labels = [pool.name, str(pool.ci_id)]
        for state in DesktopState.values:  # every state, zeros included: "no ready desktop" is a value
            by_state.add_metric([*labels, state], counts.get((pool.pk, state), 0))
        size.add_metric(labels, pool.max_size)
        spare.add_metric(labels, pool.spare)
    yield by_state
    yield size
    yield spare
    headroom = GaugeMetricFamily("cmdb_vdi_capacity_headroom",
                                 "Capacity left at the peak of the next 7 days of VDI schedules (negative: short).",
                                 labels=["cluster", "resource", "unit"])
    specs = [PoolSpec.of(p) for p in pool_list]
    clusters = sorted({s.cluster_id for s in specs})
    if clusters:
        for answer in capacity.check(clusters, pools=specs):
            for r in answer.resources:
                headroom.add_metric([answer.name, r.name, r.unit], r.capacity - r.peak)
    yield headroom
    seats = GaugeMetricFamily("cmdb_vdi_licence_seats", "Licence seats of golden-image software: owned, used by "
                              "installations, claimed by VDI pools at their maximum size.",
                              labels=["product", "metric", "tenant_id", "state"])
    by_tenant: dict[int | None, list[PoolSpec]] = defaultdict(list)
    for s in specs:
        by_tenant[s.tenant_id].append(s)
    for tenant_id, group in sorted(by_tenant.items(), key=lambda kv: kv[0] or 0):
        for g in licences.seats(tenant_id, group):
            for state, value in (("owned", g.owned), ("physical", g.physical), ("vdi", g.vdi)):
                seats.add_metric([g.product, g.metric, str(tenant_id or ""), state], value)
    yield seats
