"""Where a new desktop goes: the host of the pool's cluster with the most room left, among those it fits on.

The cluster-wide check (:mod:`vdi.capacity`) promises that the cluster can hold the pools' schedules; this
spreads the desktops over the hosts so that no host fills while another idles, and never puts a desktop on
a host that cannot take it:

* a host offers ``cores * CPU overcommit`` vCPUs and ``memory * memory overcommit`` MiB (the cluster's
  :class:`~vdi.models.ClusterPolicy`, 4 and 1 without one), and GPU slots of the pool's profile on GPUs of the
  profile's model (``frame buffer ÷ profile size`` per GPU);
* what the desktops recorded on the host take (every pool's, all states but ``deleting``) is used;
* a desktop fits when its vCPUs, memory and (for a GPU pool) one slot are left; hosts are tried in order
  of the smaller of their free CPU and memory shares, largest first (then by name), so load spreads by
  capacity, not by count: a host twice as large takes twice the desktops.

GPU slots are counted per profile: desktops of another profile on a host take whole GPUs
(``ceil(desktops ÷ that profile's slots per GPU)``), as a GPU carries profiles of one size only.
Three queries per pool run, whatever the number of hosts and desktops.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Sum

from .capacity import DEFAULT_CPU_OVERCOMMIT, DEFAULT_MEMORY_OVERCOMMIT


@dataclass
class Room:
    """One host: what it offers and what is used."""

    cpu: float
    memory: float
    gpu_slots: int = 0
    cpu_used: float = 0
    memory_used: float = 0
    gpu_used: int = 0

    def share_left(self) -> float:
        return min((self.cpu - self.cpu_used) / self.cpu if self.cpu else 0,
                   (self.memory - self.memory_used) / self.memory if self.memory else 0)


@dataclass
class Placement:
    """The hosts' room for one pool's desktops (``vcpus``, ``memory_mb``, a GPU slot if ``gpu``)."""

    vcpus: int
    memory_mb: int
    gpu: bool
    hosts: dict[str, Room] = field(default_factory=dict)

    @classmethod
    def of(cls, pool: Any) -> Placement:
        from .models import ClusterPolicy, Desktop, HostCapacity

        policy = ClusterPolicy.objects.filter(cluster_id=pool.cluster_id).values_list(
            "cpu_overcommit", "memory_overcommit").first() or (DEFAULT_CPU_OVERCOMMIT, DEFAULT_MEMORY_OVERCOMMIT)
        profile = pool.gpu_profile if pool.gpu_profile_id else None
        placement = cls(pool.vcpus, pool.memory_mb, profile is not None)
        gpus: dict[str, tuple[int, int]] = {}  # host -> (GPUs of the profile's model, frame buffer of one)
        for name, cores, memory, model, count, frame_buffer in HostCapacity.objects.filter(
                host__cluster_id=pool.cluster_id).values_list("host__name", "cpu_cores", "memory_mb", "gpu_model",
                                                              "gpu_count", "gpu_frame_buffer_mb"):
            placement.hosts[name] = Room(float(cores * policy[0]), float(memory * policy[1]))
            if profile is not None and model == profile.gpu_model and count and frame_buffer:
                gpus[name] = (count, frame_buffer)
        other_gpus: dict[str, int] = defaultdict(int)  # host -> GPUs taken by desktops of other profiles
        for host, profile_id, profile_mb, cpu, mem, n in Desktop.objects.filter(
                host__cluster_id=pool.cluster_id).exclude(state="deleting").values_list(
                "host__name", "pool__gpu_profile_id", "pool__gpu_profile__frame_buffer_mb").annotate(
                cpu=Sum("pool__vcpus"), mem=Sum("pool__memory_mb"), n=Count("id")).order_by():
            room = placement.hosts.get(host)
            if room is None:
                continue
            room.cpu_used += cpu or 0
            room.memory_used += mem or 0
            if profile is None or profile_id is None or host not in gpus:
                continue
            if profile_id == profile.pk:
                room.gpu_used += n
            else:
                per_gpu = gpus[host][1] // profile_mb if profile_mb else 0
                other_gpus[host] += math.ceil(n / per_gpu) if per_gpu else gpus[host][0]
        for host, (count, frame_buffer) in gpus.items():
            free = max(0, count - other_gpus[host])
            placement.hosts[host].gpu_slots = free * (frame_buffer // profile.frame_buffer_mb)
        return placement

    def why_not(self, host: str) -> str:
        """Why a desktop does not fit on ``host`` ("" if it does)."""
        room = self.hosts.get(host)
        if room is None:
            return f"{host}: no capacity recorded"
        if room.cpu - room.cpu_used < self.vcpus:
            return f"{host}: {room.cpu - room.cpu_used:g} of {room.cpu:g} vCPUs left, {self.vcpus} needed"
        if room.memory - room.memory_used < self.memory_mb:
            return f"{host}: {room.memory - room.memory_used:g} of {room.memory:g} MiB left, {self.memory_mb} needed"
        if self.gpu and room.gpu_slots - room.gpu_used < 1:
            return f"{host}: no GPU slot of the pool's profile left ({room.gpu_used} of {room.gpu_slots} used)"
        return ""

    def order(self, candidates: list[str], avoid: str = "") -> list[str]:
        """The hosts of ``candidates`` the desktop fits on, most room first; ``avoid`` (where a broken desktop
        was) last."""
        fitting = [h for h in candidates if not self.why_not(h)]
        return sorted(fitting, key=lambda h: (h == avoid, -self.hosts[h].share_left(), h))

    def take(self, host: str) -> None:
        room = self.hosts.get(host)
        if room is not None:
            room.cpu_used += self.vcpus
            room.memory_used += self.memory_mb
            room.gpu_used += int(self.gpu)

    def release(self, host: str) -> None:
        room = self.hosts.get(host)
        if room is not None:
            room.cpu_used -= self.vcpus
            room.memory_used -= self.memory_mb
            room.gpu_used -= int(self.gpu)
