"""The KubeVirt driver: a pool rendered as Kubernetes objects.

A pooled pool is one ``VirtualMachinePool`` (``pool.kubevirt.io/v1alpha1``) whose ``replicas`` is the
pool's target size; a persistent pool is one ``VirtualMachine`` (``kubevirt.io/v1``) per desktop, so each
keeps its own disk and user.  Each VM's root disk is a DataVolume cloned from the golden image's PVC (named
after the golden image), sized as the pool's disk; CPU and memory as the pool's; a GPU profile becomes a
``gpus`` device of the mediated-device resource ``nvidia.com/<PROFILE>``.

:func:`plan` compares the rendered objects with the server's through a server-side apply with
``dryRun=All`` — the server's own defaulting and field ownership decide what would change — and
:func:`apply` applies them for real, each object with its own outcome (a client of its own: tools and tests).

The ``vdi`` reconciler does not talk to the cluster itself: :func:`handoff` publishes a pool's objects
through the hook ``kubevirt_objects_published`` (:mod:`cmdb.core.hooks`), and the Kubernetes domain, which
owns the clusters, their credentials and field managers, plans and applies them (``k8s/kubevirt.py``).
The VDI domain never imports it; without it nobody answers and the pool is reported as not provisioned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

FIELD_MANAGER = "cmdb-vdi"
POOL_API = ("pool.kubevirt.io/v1alpha1", "VirtualMachinePool")
VM_API = ("kubevirt.io/v1", "VirtualMachine")
LABEL = "vdi.cmdb.io/pool"


def _vm_spec(pool: Any, name: str, namespace: str) -> dict[str, Any]:
    devices: dict[str, Any] = {"disks": [{"name": "root", "disk": {"bus": "virtio"}}]}
    if getattr(pool, "gpu_profile_id", None):
        devices["gpus"] = [{"name": "gpu0", "deviceName": f"nvidia.com/{pool.gpu_profile.name.upper()}"}]
    return {
        "running": True,
        "dataVolumeTemplates": [{
            "metadata": {"name": f"{name}-root"},
            "spec": {"source": {"pvc": {"namespace": namespace, "name": pool.golden_image.name}},
                     "storage": {"resources": {"requests": {"storage": f"{pool.disk_gb}Gi"}}}},
        }],
        "template": {
            "metadata": {"labels": {LABEL: pool.name}},
            "spec": {
                "domain": {"cpu": {"cores": pool.vcpus}, "resources": {"requests": {"memory": f"{pool.memory_mb}Mi"}},
                           "devices": devices},
                "volumes": [{"name": "root", "dataVolume": {"name": f"{name}-root"}}],
            },
        },
    }


def render(pool: Any, *, replicas: int, desktops: list[str] = (), namespace: str = "vdi") -> list[dict[str, Any]]:
    """The objects of ``pool``: a VirtualMachinePool of ``replicas`` (pooled) or one VirtualMachine per name
    in ``desktops`` (persistent)."""
    meta = {"namespace": namespace, "labels": {LABEL: pool.name, "app.kubernetes.io/managed-by": "cmdb"}}
    if pool.pool_type == "persistent":
        return [{"apiVersion": VM_API[0], "kind": VM_API[1], "metadata": {"name": name, **meta},
                 "spec": _vm_spec(pool, name, namespace)} for name in desktops]
    return [{"apiVersion": POOL_API[0], "kind": POOL_API[1], "metadata": {"name": pool.name, **meta},
             "spec": {"replicas": replicas, "selector": {"matchLabels": {LABEL: pool.name}},
                      "virtualMachineTemplate": {"metadata": {"labels": {LABEL: pool.name}},
                                                 "spec": _vm_spec(pool, pool.name, namespace)}}}]


@dataclass(frozen=True)
class KubeItem:
    action: str  # create | update | none
    kind: str
    name: str
    diff: str = ""


def _resource(dynamic: Any, obj: dict[str, Any]) -> Any:
    return dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])


def _changed_paths(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            out += _changed_paths(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        return out
    return [] if old == new else [f"{path}: {json.dumps(old)} -> {json.dumps(new)}"]


def plan(dynamic: Any, objects: list[dict[str, Any]]) -> list[KubeItem]:
    """What applying ``objects`` would change, asked of the server (``dryRun=All``), nothing written."""
    from kubernetes.dynamic.exceptions import NotFoundError

    items = []
    for obj in objects:
        res, meta = _resource(dynamic, obj), obj["metadata"]
        try:
            live = res.get(name=meta["name"], namespace=meta["namespace"]).to_dict()
        except NotFoundError:
            items.append(KubeItem("create", obj["kind"], meta["name"]))
            continue
        would = res.server_side_apply(body=obj, name=meta["name"], namespace=meta["namespace"],
                                      field_manager=FIELD_MANAGER, dry_run="All").to_dict()
        changes = _changed_paths(live.get("spec"), would.get("spec"), "spec")
        items.append(KubeItem("update" if changes else "none", obj["kind"], meta["name"], "\n".join(changes)))
    return items


def apply(dynamic: Any, objects: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """Server-side apply each object; ``(name, ok|failed, message)`` per object."""
    from kubernetes.dynamic.exceptions import DynamicApiError

    out = []
    for obj in objects:
        meta = obj["metadata"]
        try:
            _resource(dynamic, obj).server_side_apply(body=obj, name=meta["name"], namespace=meta["namespace"],
                                                      field_manager=FIELD_MANAGER)
            out.append((meta["name"], "ok", "applied"))
        except DynamicApiError as exc:
            out.append((meta["name"], "failed", f"{exc.status} {exc.reason}"))
    return out


# --- the handoff to the Kubernetes domain -------------------------------------------------------------------

#: The kinds a pool may have live (listed for deletions when a pool changes type or shrinks to nothing).
KINDS = [POOL_API, VM_API]
NO_ANSWER = "no Kubernetes domain answered the KubeVirt handoff (is the k8s app installed?)"


@dataclass
class Handoff:
    """The Kubernetes domain's answer for one pool: its items (see the hook), or the error."""

    pool: str
    cluster: str
    error: str = ""
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changes(self) -> list[dict[str, Any]]:
        return [i for i in self.items if i["action"] in ("create", "update", "delete")]

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [i for i in self.items if i["status"] == "failed"]


def owner_of(pool: Any) -> str:
    return f"vdi-pool-{pool.name}"


def cluster_of(pool: Any) -> str:
    return pool.kube_cluster or pool.cluster.name


def desired(pool: Any, at: Any = None) -> list[dict[str, Any]]:
    """The pool's objects now: its target size as for libvirt pools (schedule, spare beyond the desktops in
    use, maximum); a persistent pool keeps its assigned desktops' names and fills the lowest free numbers."""
    from ..models import Desktop
    from ..plan import BUSY, desktop_name, target_size
    from ..schedule import wanted_size

    rows = list(Desktop.objects.filter(pool=pool).exclude(state="deleting").values_list("name", "state"))
    in_use = [name for name, state in rows if state in BUSY]
    target = target_size(wanted_size(pool, at), len(in_use), pool.spare, pool.max_size)
    names = sorted(in_use)
    number = 1
    while len(names) < target:
        name = desktop_name(pool.name, number)
        if name not in names:
            names.append(name)
        number += 1
    return render(pool, replicas=target, desktops=sorted(names), namespace=pool.kube_namespace)


def handoff(pool: Any, *, apply: bool = False, only: list[tuple[str, str, str]] | None = None, user: Any = None,
            at: Any = None) -> Handoff:
    """Publish the pool's objects to the Kubernetes domain: its plan, or (``apply``) its outcomes."""
    from cmdb.core.hooks import kubevirt_objects_published

    cluster = cluster_of(pool)
    answers = [answer for _receiver, answer in kubevirt_objects_published.send(
        sender=None, cluster=cluster, owner=owner_of(pool), objects=desired(pool, at), kinds=KINDS, apply=apply,
        only=only, user=user) if answer is not None]
    if not answers:
        return Handoff(pool.name, cluster, NO_ANSWER)
    return Handoff(pool.name, cluster, str(answers[0].get("error") or ""), list(answers[0].get("items") or ()))
