"""The KubeVirt driver: a pool rendered as Kubernetes objects.

A pooled pool is one ``VirtualMachinePool`` (``pool.kubevirt.io/v1alpha1``) whose ``replicas`` is the
pool's target size; a persistent pool is one ``VirtualMachine`` (``kubevirt.io/v1``) per desktop, so each
keeps its own disk and user.  Each VM's root disk is a DataVolume cloned from the golden image's PVC (named
after the golden image), sized as the pool's disk; CPU and memory as the pool's; a GPU profile becomes a
``gpus`` device of the mediated-device resource ``nvidia.com/<PROFILE>``.

:func:`plan` compares the rendered objects with the server's through a server-side apply with
``dryRun=All`` — the server's own defaulting and field ownership decide what would change — and
:func:`apply` applies them for real, each object with its own outcome.  Once the Kubernetes reconciler has
landed, it takes these objects instead; the rendering is plain dicts without a client.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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
