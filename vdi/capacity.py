"""Capacity: can a host cluster hold its pools' desktops at every moment of their schedules?

Supply per cluster comes from its hosts' :class:`~vdi.models.HostCapacity` rows (cores, memory, physical
GPUs) and its :class:`~vdi.models.ClusterPolicy` (overcommit ratios; 4 x CPU and 1 x memory without one).
Demand is the schedule (:mod:`vdi.schedule`) over the next 7 days in 15-minute steps: a pool runs
``min(max_size, wanted + spare)`` desktops in a step, each with its vCPUs, memory and GPU profile.

GPUs: a physical GPU carries instances of one profile size only, so a profile of ``f`` MB on a GPU of
``F`` MB has ``F // f`` slots and the GPUs a step needs are ``Σ over profiles ceil(demand / slots)`` for each
GPU model.  GPUs are re-profiled between steps as their instances come and go (a lab's lecture block ends,
its GPUs empty); hosts of one GPU model are assumed to have the same frame buffer (the smallest counts).
Resources are summed over the cluster's hosts (no per-host packing: a desktop fits anywhere at the sizes a
VDI pool uses; per-host placement is the driver's).

The whole check is a handful of queries and array operations over pools x steps, not a query per step.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from .schedule import Grid, PoolSpec, load, sizes, specs, week_grid

DEFAULT_CPU_OVERCOMMIT = Decimal("4")
DEFAULT_MEMORY_OVERCOMMIT = Decimal("1")


@dataclass
class Supply:
    cluster_id: int
    name: str
    cores: int = 0
    memory_mb: int = 0
    cpu_overcommit: Decimal = DEFAULT_CPU_OVERCOMMIT
    memory_overcommit: Decimal = DEFAULT_MEMORY_OVERCOMMIT
    #: GPU model -> [count, frame buffer MB of one GPU (the smallest of the model)]
    gpus: dict[str, list[int]] = field(default_factory=dict)

    @property
    def vcpus(self) -> float:
        return float(self.cores * self.cpu_overcommit)

    @property
    def memory(self) -> float:
        return float(self.memory_mb * self.memory_overcommit)


def supply(cluster_ids: list[int]) -> dict[int, Supply]:
    """Supply of the clusters: three queries."""
    from cmdb.virtualization.models import Cluster

    from .models import ClusterPolicy, HostCapacity

    out = {pk: Supply(pk, name) for pk, name in Cluster.objects.filter(pk__in=cluster_ids).values_list("pk", "name")}
    for cluster_id, cpu, mem in ClusterPolicy.objects.filter(cluster_id__in=cluster_ids).values_list(
            "cluster_id", "cpu_overcommit", "memory_overcommit"):
        out[cluster_id].cpu_overcommit, out[cluster_id].memory_overcommit = cpu, mem
    for cluster_id, cores, mem, model, count, fb in HostCapacity.objects.filter(
            host__cluster_id__in=cluster_ids).values_list("host__cluster_id", "cpu_cores", "memory_mb", "gpu_model",
                                                         "gpu_count", "gpu_frame_buffer_mb"):
        s = out[cluster_id]
        s.cores += cores
        s.memory_mb += mem
        if count and model:
            have = s.gpus.setdefault(model, [0, fb])
            have[0] += count
            have[1] = min(have[1], fb)
    return out


def gpu_profile_offered(cluster_id: int, profile: Any) -> bool:
    """Whether some host of the cluster has a GPU of the profile's model big enough for one instance."""
    from .models import HostCapacity

    return HostCapacity.objects.filter(host__cluster_id=cluster_id, gpu_model=profile.gpu_model, gpu_count__gt=0,
                                       gpu_frame_buffer_mb__gte=profile.frame_buffer_mb).exists()


@dataclass
class Resource:
    """One resource of a cluster over the horizon: capacity, peak demand and when, and the shortfall."""

    name: str
    capacity: float
    peak: float
    peak_at: dt.datetime | None
    unit: str

    @property
    def short(self) -> float:
        return max(0.0, self.peak - self.capacity)

    def as_dict(self) -> dict[str, Any]:
        return {"resource": self.name, "unit": self.unit, "capacity": self.capacity, "peak": self.peak,
                "peak_at": self.peak_at.isoformat() if self.peak_at else None,
                "headroom": self.capacity - self.peak, "short": self.short}


@dataclass
class ClusterCapacity:
    cluster_id: int
    name: str
    pools: list[str]
    resources: list[Resource]

    @property
    def reasons(self) -> list[str]:
        return [f"{r.name}: {r.peak:g} {r.unit} wanted at {r.peak_at:%a %Y-%m-%d %H:%M} UTC, "
                f"{r.capacity:g} available" for r in self.resources if r.short > 0]

    def as_dict(self) -> dict[str, Any]:
        return {"cluster": {"id": self.cluster_id, "name": self.name}, "pools": self.pools,
                "ok": not self.reasons, "reasons": self.reasons,
                "resources": [r.as_dict() for r in self.resources]}


def _resource(name: str, unit: str, capacity: float, demand: np.ndarray, grid: Grid) -> Resource:
    if demand.size == 0:
        return Resource(name, capacity, 0.0, None, unit)
    i = int(np.argmax(demand))
    return Resource(name, capacity, float(demand[i]), dt.datetime.fromtimestamp(grid.t[i], dt.UTC), unit)


def desktops(pools: list[PoolSpec], grid: Grid, *, loaded: tuple | None = None) -> np.ndarray:
    """Running desktops per pool and step: the wanted size plus the spare ones, within the maximum."""
    wanted = sizes(pools, grid, loaded=loaded)
    spare = np.array([p.spare for p in pools], dtype=np.int64)[:, None]
    top = np.array([p.max_size for p in pools], dtype=np.int64)[:, None]
    return np.minimum(wanted + spare, top)


def check(cluster_ids: list[int] | None = None, *, candidate: PoolSpec | None = None,
          grid: Grid | None = None, pools: list[PoolSpec] | None = None) -> list[ClusterCapacity]:
    """Capacity of each cluster over ``grid`` (the next 7 days); ``candidate`` replaces the pool with its id
    (or is added, when new) — the state a pool change would lead to."""
    grid = grid or week_grid()
    if pools is None:
        from .models import Pool

        qs = Pool.objects.all() if cluster_ids is None else Pool.objects.filter(cluster_id__in=cluster_ids)
        pools = specs(qs)
    if candidate is not None:
        pools = [p for p in pools if candidate.id is None or p.id != candidate.id] + [candidate]
    if cluster_ids is None:
        cluster_ids = sorted({p.cluster_id for p in pools})
    pools = [p for p in pools if p.cluster_id in set(cluster_ids)]
    loaded = load([p.id for p in pools if p.id is not None])
    running = desktops(pools, grid, loaded=loaded) if pools else np.zeros((0, len(grid.t)), dtype=np.int64)
    vcpus = np.array([p.vcpus for p in pools], dtype=np.float64)
    memory = np.array([p.memory_mb for p in pools], dtype=np.float64)
    cluster_of = np.array([p.cluster_id for p in pools], dtype=np.int64)
    out = []
    for cluster_id, s in sorted(supply(cluster_ids).items(), key=lambda kv: kv[1].name):
        rows = cluster_of == cluster_id
        here = running[rows]
        resources = [
            _resource("CPU", "vCPUs", s.vcpus, vcpus[rows] @ here, grid),
            _resource("memory", "MB", s.memory, memory[rows] @ here, grid),
        ]
        by_profile: dict[tuple[str, int], np.ndarray] = {}
        for index in np.flatnonzero(rows):
            pool = pools[index]
            if pool.gpu_profile_mb:
                key = (pool.gpu_model, pool.gpu_profile_mb)
                by_profile[key] = by_profile.get(key, 0) + running[index]
        per_model: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(len(grid.t)))
        for (model, profile_mb), demand in by_profile.items():
            fb = s.gpus.get(model, (0, 0))[1]
            slots = fb // profile_mb if fb else 0
            per_model[model] = per_model[model] + (np.ceil(demand / slots) if slots else demand * np.inf)
        for model, needed in sorted(per_model.items()):
            needed = np.where(np.isinf(needed), 1e9, needed)
            resources.append(_resource(f"GPU {model}", "GPUs", float(s.gpus.get(model, (0, 0))[0]), needed, grid))
        out.append(ClusterCapacity(cluster_id, s.name, [pools[i].name for i in np.flatnonzero(rows)], resources))
    return out


FIELD_OF = {"CPU": "vcpus", "memory": "memory_mb"}


def refusals(candidate: PoolSpec, *, grid: Grid | None = None) -> dict[str, list[str]]:
    """Why the pool change ``candidate`` would overcommit its cluster, by the field to name.

    Only shortfalls the change creates or makes worse are refused: a cluster already short because of
    other pools does not block an edit that does not add to it.
    """
    grid = grid or week_grid()
    after = check([candidate.cluster_id], candidate=candidate, grid=grid)
    if not after or not after[0].reasons:
        return {}
    before = check([candidate.cluster_id], grid=grid)
    short_before = {r.name: r.short for c in before for r in c.resources}
    errors: dict[str, list[str]] = defaultdict(list)
    for r in after[0].resources:
        if r.short > 0 and r.short > short_before.get(r.name, 0):
            field = FIELD_OF.get(r.name, "gpu_profile" if r.name.startswith("GPU") else "max_size")
            errors[field].append(
                f"Cluster {after[0].name} would be short of {r.name}: {r.peak:g} {r.unit} wanted at "
                f"{r.peak_at:%a %Y-%m-%d %H:%M} UTC, {r.capacity:g} available.")
    return dict(errors)
