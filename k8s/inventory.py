"""Discovery of a cluster back into the CMDB: nodes, namespaces, workloads and their images as CIs.

The reconciler (:mod:`k8s.sync`) writes what the CMDB wants; this module reads what the cluster
*has*, so the CMDB shows the platform as it is, orphans included.  Per cluster (:func:`discover_cluster`):

1. **connect** as the reconciler does (the cluster's CA, its token's secret reference) and ask the server
   which group versions it serves; a kind is listed in the first served version (preferred first) whose
   resource list names it, so CronJobs come from ``batch/v1beta1`` on v1.20 and ``batch/v1`` later;
2. **list** nodes, namespaces, Deployments, StatefulSets, DaemonSets and CronJobs: one paged LIST each
   for the whole cluster, never a GET per object;
3. **write** in one transaction attributed to ``k8s-discovery:<cluster>``, with a fixed number of
   statements whatever the cluster's size:

   - *nodes* (:class:`~k8s.models.Node`: capacity, kubelet version, OS image, ...) linked to the machine
     the CMDB records: by system UUID (``status.nodeInfo.systemUUID``) through the discovered host with
     that UUID (the core hook :data:`cmdb.core.hooks.machines_by_system_uuid`; discovery answers it), else
     by name when exactly one device or VM is named like the node (or its first DNS label);
   - *namespaces*: a namespace the CMDB does not declare becomes a :class:`~k8s.models.Namespace` CI
     with ``unmanaged`` set and ``managed`` off (never reconciled), so orphans are visible;
   - *workloads* (:class:`~k8s.models.Workload`) with a ``runs_on`` edge to their namespace, and their
     container images as software installations (product: registry and repository, version: tag or
     digest; ``source = "kubernetes"``, so installations entered by hand are left alone);
   - *gone*: a node, namespace or workload seen before, absent from this listing and not seen for
     ``K8S_STALE_AFTER`` (:func:`stale_after`, default six hours) is flagged ``stale`` (never deleted: its
     history and relationships stay); one that is back is unflagged.  The grace is there because a listing
     is a moment: a Deployment deleted and re-created by a pipeline, or a node replaced under the same name
     during a rolling upgrade, is missing from one listing without being gone, and a stale flag is a change
     record and an alert; discovered hosts have ``STALE_DAYS`` for the same reason.

   Configuration changes (a kubelet upgrade, new images, stale flags) are change records; ``last_seen``
   and readiness are observation, written without one.

A wrong token or an unreachable server yields a :class:`ClusterDiscovery` with ``error`` naming the cluster
and the error (nothing is written for it), never an exception.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.utils import timezone
from django.utils.text import slugify

from cmdb.core import bulk, changelog, hooks
from cmdb.core.choices import ChangeAction
from cmdb.core.context import change_logging
from cmdb.core.models.registry import ConfigurationItem

from . import sync
from .models import Cluster, Namespace, Node, Workload

M = TypeVar("M", bound=models.Model)

#: Where an installation came from (SoftwareInstallation.source): only these rows are ours to remove.
SOURCE = "kubernetes"
RUNS_ON = "runs_on"
PAGE = 500
#: kind → (API group, plural); the core group's kinds are listed under /api/v1.
WORKLOAD_KINDS: dict[str, tuple[str, str]] = {
    "Deployment": ("apps", "deployments"),
    "StatefulSet": ("apps", "statefulsets"),
    "DaemonSet": ("apps", "daemonsets"),
    "CronJob": ("batch", "cronjobs"),
}
#: Registries that Docker names images in without saying so ("nginx" is docker.io/library/nginx).
DEFAULT_REGISTRY = "docker.io"
#: How long an object may be missing from the listings before it is flagged stale, unless configured.
DEFAULT_STALE_AFTER = "6h"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: str | int | float | dt.timedelta) -> dt.timedelta:
    """A duration as settings give it: a timedelta, seconds, or a number with a unit (``30m``, ``6h``, ``2d``).

    Raises ValueError for anything else (a negative duration included)."""
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration such as 30m, 6h or 2d")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < 0:
        raise ValueError(f"{value!r} is negative")
    return dt.timedelta(seconds=seconds)


def stale_after() -> dt.timedelta:
    """``settings.K8S_STALE_AFTER`` (env ``CMDB_K8S_STALE_AFTER``): how long a node, namespace or workload
    may be missing from the listings, counted from when it was last seen, before it is flagged stale.
    A wrong value stops discovery with the setting's name rather than guessing a grace."""
    value = getattr(settings, "K8S_STALE_AFTER", None)
    try:
        return parse_duration(DEFAULT_STALE_AFTER if value in (None, "") else value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"K8S_STALE_AFTER: {exc}") from exc


@dataclass
class ClusterDiscovery:
    """What one cluster's discovery found and changed, or the error that kept it from running."""

    cluster: str
    error: str = ""
    served_version: str = ""
    counts: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    #: Kinds the server does not serve (e.g. CronJob on a server without batch/v1beta1 or batch/v1 cronjobs).
    unserved: list[str] = field(default_factory=list)

    def line(self) -> str:
        if self.error:
            return self.error
        parts = ", ".join(f"{key} {value}" for key, value in sorted(self.counts.items()) if value)
        return f"cluster {self.cluster} ({self.served_version}): {parts or 'nothing found'}"


# --- reading the cluster ---------------------------------------------------------------------------------------


def served_paths(conn: sync.Connection) -> tuple[str, dict[str, str], list[str]]:
    """(server version, kind → collection path, kinds not served) from the server's discovery documents."""
    version = conn.call("discovery", "GET", "/version").get("gitVersion", "")
    groups: dict[str, list[str]] = {}
    for group in conn.call("discovery", "GET", "/apis").get("groups") or []:
        preferred = (group.get("preferredVersion") or {}).get("groupVersion")
        versions = [v.get("groupVersion") for v in group.get("versions") or [] if v.get("groupVersion")]
        groups[group["name"]] = sorted(versions, key=lambda v: v != preferred)
    paths: dict[str, str] = {}
    resources: dict[str, set[str]] = {}
    unserved = []
    for kind, (group, plural) in WORKLOAD_KINDS.items():
        for group_version in groups.get(group, []):
            if group_version not in resources:
                answer = conn.call("discovery", "GET", f"/apis/{group_version}")
                resources[group_version] = {r.get("name") for r in answer.get("resources") or []}
            if plural in resources[group_version]:
                paths[kind] = f"/apis/{group_version}/{plural}"
                break
        else:
            unserved.append(kind)
    return version, paths, unserved


def list_all(conn: sync.Connection, path: str) -> list[dict[str, Any]]:
    """Every object of a collection, in pages of :data:`PAGE` (a LIST per page, ``continue`` tokens)."""
    items: list[dict[str, Any]] = []
    token = ""
    while True:
        query = [("limit", str(PAGE))] + ([("continue", token)] if token else [])
        answer = conn.call("list", "GET", path, query=query)
        items += answer.get("items") or []
        token = (answer.get("metadata") or {}).get("continue") or ""
        if not token:
            return items


def parse_image(reference: str) -> tuple[str, str, str]:
    """(registry, repository, version) of an image reference; version is the tag, else the digest, else
    ``latest`` (what the runtime pulls).  ``nginx`` is ``("docker.io", "library/nginx", "latest")``."""
    name, _, digest = reference.partition("@")
    tag = ""
    head, slash, last = name.rpartition("/")
    if ":" in last:
        last, tag = last.split(":", 1)
        name = f"{head}{slash}{last}"
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = DEFAULT_REGISTRY, name if rest else f"library/{name}"
    return registry.lower(), repository, tag or digest or "latest"


def _template(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec") or {})
    return ((spec.get("template") or {}).get("spec")) or {}


def workload_values(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The Workload fields of a live object: desired and ready replicas, and its images (sorted, unique)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    pod = _template(kind, obj)
    images = sorted({c["image"] for key in ("initContainers", "containers") for c in pod.get(key) or []
                     if c.get("image")})
    if kind == "DaemonSet":
        replicas, ready = status.get("desiredNumberScheduled"), status.get("numberReady", 0)
    elif kind == "CronJob":
        replicas, ready = None, len(status.get("active") or [])
    else:
        replicas, ready = spec.get("replicas"), status.get("readyReplicas", 0)
    return {"replicas": replicas, "ready": ready, "images": images}


def node_values(obj: dict[str, Any]) -> dict[str, Any]:
    status = obj.get("status") or {}
    info, capacity = status.get("nodeInfo") or {}, status.get("capacity") or {}
    ready = next((c.get("status") == "True" for c in status.get("conditions") or [] if c.get("type") == "Ready"),
                 None)
    pods = str(capacity.get("pods", ""))
    return {
        "system_uuid": str(info.get("systemUUID") or "").lower()[:64],
        "kubelet_version": str(info.get("kubeletVersion") or "")[:50],
        "os_image": str(info.get("osImage") or "")[:200],
        "kernel_version": str(info.get("kernelVersion") or "")[:100],
        "container_runtime": str(info.get("containerRuntimeVersion") or "")[:100],
        "architecture": str(info.get("architecture") or "")[:20],
        "cpu": str(capacity.get("cpu") or "")[:20],
        "memory": str(capacity.get("memory") or "")[:20],
        "max_pods": int(pods) if pods.isdigit() else None,
        "ready": ready,
    }


@dataclass
class Listing:
    """The cluster as one discovery saw it."""

    nodes: dict[str, dict[str, Any]]
    namespaces: set[str]
    #: (namespace, kind, name) → workload values
    workloads: dict[tuple[str, str, str], dict[str, Any]]


def read_cluster(conn: sync.Connection, result: ClusterDiscovery) -> Listing:
    result.served_version, paths, result.unserved = served_paths(conn)
    nodes = {n["metadata"]["name"]: node_values(n) for n in list_all(conn, "/api/v1/nodes")}
    namespaces = {n["metadata"]["name"] for n in list_all(conn, "/api/v1/namespaces")}
    workloads: dict[tuple[str, str, str], dict[str, Any]] = {}
    for kind, path in paths.items():
        for obj in list_all(conn, path):
            meta = obj.get("metadata") or {}
            workloads[(meta.get("namespace") or "", kind, meta["name"])] = workload_values(kind, obj)
    return Listing(nodes, namespaces, workloads)


# --- writing the CMDB ------------------------------------------------------------------------------------------


def _update(objs: list[M], pre: dict[Any, dict[str, Any]], fields: set[str]) -> None:
    """Write ``fields`` of changed CIs (and their registry rows) in bulk, one change record each."""
    if not objs:
        return
    model = type(objs[0])
    now = timezone.now()
    for obj in objs:
        obj.last_updated = now  # type: ignore[attr-defined]
    model.objects.bulk_update(objs, sorted(fields | {"last_updated"}), batch_size=500)  # type: ignore[attr-defined]
    registry = [ConfigurationItem(pk=obj.ci_id, **obj.registry_values())  # type: ignore[attr-defined]
                for obj in objs]
    ConfigurationItem.objects.bulk_update(registry, ["name", "status", "tenant", "criticality", "owner",
                                                     "description"], batch_size=500)
    changelog.note_many(objs, ChangeAction.UPDATE, pre)


def _reconcile_rows(existing: dict[Any, M], wanted: dict[Any, dict[str, Any]], make: Callable[[Any, dict[str, Any]], M],
                    counts: Counter[str], label: str, now: dt.datetime, grace: dt.timedelta) -> dict[Any, M]:
    """Create the wanted rows that are missing, update those whose values differ, flag the absent ones stale.

    ``wanted`` maps a key to field values (``stale`` false included); an existing row not wanted that
    was seen before, last more than ``grace`` before ``now``, is flagged stale (one never seen, such as
    a namespace the CMDB declares and has not created yet, is not).  Returns key → row for every wanted
    key.  One INSERT per table, one
    UPDATE per table for the changed rows, two UPDATEs for ``last_seen``; change records in one batch.
    """
    model: type[models.Model] | None = None
    created = [make(key, values) for key, values in wanted.items() if key not in existing]
    changed: list[M] = []  # changes worth a change record
    quiet: list[M] = []  # only observation changed (readiness)
    changed_fields: set[str] = set()
    rows = list(existing.values())
    tags = changelog.tags_by_object(rows) if rows else {}
    pre: dict[Any, dict[str, Any]] = {}

    def change(obj: M, values: dict[str, Any]) -> bool:
        diff = {name: value for name, value in values.items() if getattr(obj, name) != value}
        if not diff:
            return False
        hidden = type(obj).snapshot_exclude  # type: ignore[attr-defined]
        logged = any(name not in hidden for name in diff)
        if logged:
            pre[obj.pk] = obj.snapshot(tags=tags.get((obj._meta.label_lower, obj.pk), []))  # type: ignore[attr-defined]
        (changed if logged else quiet).append(obj)
        for name, value in diff.items():
            setattr(obj, name, value)
        changed_fields.update(diff)
        return logged

    for key, obj in existing.items():
        model = type(obj)
        if key in wanted:
            counts[f"{label} updated"] += change(obj, wanted[key])
        elif (not obj.stale and obj.last_seen is not None  # type: ignore[attr-defined]
              and obj.last_seen <= now - grace):  # type: ignore[attr-defined]
            counts[f"{label} stale"] += change(obj, {"stale": True})
    _update(changed, pre, changed_fields)
    if quiet:
        type(quiet[0]).objects.bulk_update(quiet, sorted(changed_fields), batch_size=500)  # type: ignore[attr-defined]
    if created:
        for obj in created:
            obj.last_seen = now  # type: ignore[attr-defined]
        bulk.bulk_create(type(created[0]), created)
        counts[f"{label} created"] += len(created)
    seen = [obj for key, obj in existing.items() if key in wanted]
    if seen and model is not None:
        model.objects.filter(pk__in=[o.pk for o in seen]).update(last_seen=now)  # type: ignore[attr-defined]
        ConfigurationItem.objects.filter(pk__in=[o.ci_id for o in seen]).update(last_seen=now)  # type: ignore[attr-defined]
    out = {key: obj for key, obj in existing.items() if key in wanted}
    out.update({key: obj for key, obj in zip([k for k in wanted if k not in existing], created, strict=True)})
    return out


def _machine_links(nodes: dict[str, dict[str, Any]], user: Any) -> dict[str, tuple[int | None, int | None, str]]:
    """node name → (device id, VM id, rule): by system UUID (the hook), else by a unique name; two queries
    for the names and one per hook receiver, whatever the number of nodes."""
    from cmdb.dcim.models import Device
    from cmdb.users.permissions import restrict
    from cmdb.virtualization.models import VirtualMachine

    uuids = {values["system_uuid"] for values in nodes.values() if values["system_uuid"]}
    by_uuid: dict[str, tuple[str, int]] = {}
    if uuids:
        for _receiver, answer in hooks.machines_by_system_uuid.send(sender=None, system_uuids=uuids, user=user):
            for uuid, place in (answer or {}).items():
                by_uuid.setdefault(uuid, place)

    def names(node: str) -> set[str]:
        short = node.split(".")[0]
        return {node, node.lower(), short, short.lower()}

    wanted = {n for node in nodes for n in names(node)}
    devices, vms = Device.objects.filter(name__in=wanted), VirtualMachine.objects.filter(name__in=wanted)
    if user is not None:
        devices, vms = restrict(devices, user, "change"), restrict(vms, user, "change")
    by_name: dict[str, set[tuple[str, int]]] = {}
    for pk, name in devices.values_list("pk", "name"):
        by_name.setdefault(name.lower(), set()).add(("device", pk))
    for pk, name in vms.values_list("pk", "name"):
        by_name.setdefault(name.lower(), set()).add(("virtual_machine", pk))
    links: dict[str, tuple[int | None, int | None, str]] = {}
    for node, values in nodes.items():
        place, rule = by_uuid.get(values["system_uuid"]), "system-uuid"
        if place is None:
            found = by_name.get(node.lower()) or by_name.get(node.split(".")[0].lower()) or set()
            place, rule = (next(iter(found)), "name") if len(found) == 1 else (None, "")
        if place is None:
            links[node] = (None, None, "")
        else:
            links[node] = (place[1], None, rule) if place[0] == "device" else (None, place[1], rule)
    return links


def product_slug(registry: str, repository: str) -> str:
    """Unique per (registry, repository) without a lookup: a readable part and a short digest."""
    digest = hashlib.blake2b(f"{registry}\0{repository}".encode(), digest_size=4).hexdigest()
    return f"{slugify(f'{registry} {repository}')[:88] or 'image'}-{digest}"


def _image_versions(references: set[str]) -> dict[str, int]:
    """image reference → SoftwareVersion id, creating products and versions never seen (two reads and at most
    two INSERTs, plus two re-reads when something was created)."""
    from cmdb.software.choices import ProductCategory
    from cmdb.software.models import SoftwareProduct, SoftwareVersion
    from cmdb.software.versions import version_key

    parsed = {ref: parse_image(ref) for ref in references}
    parsed = {ref: (reg[:100], repo[:100], ver[:100]) for ref, (reg, repo, ver) in parsed.items()}
    keys = {(reg, repo) for reg, repo, _ver in parsed.values()}
    if not keys:
        return {}

    def products() -> dict[tuple[str, str], int]:
        rows = SoftwareProduct.objects.filter(name__in={repo for _reg, repo in keys}).values_list(
            "pk", "vendor", "name")
        return {(vendor, name): pk for pk, vendor, name in rows if (vendor, name) in keys}

    found = products()
    missing = [SoftwareProduct(vendor=reg, name=repo, slug=product_slug(reg, repo),
                               category=ProductCategory.APPLICATION, description="Container image")
               for reg, repo in sorted(keys - set(found))]
    if missing:
        bulk.bulk_create(SoftwareProduct, missing)
        found.update({(p.vendor, p.name): p.pk for p in missing})
    wanted = {(found[(reg, repo)], ver) for reg, repo, ver in parsed.values()}

    def versions() -> dict[tuple[int, str], int]:
        rows = SoftwareVersion.objects.filter(product_id__in={p for p, _v in wanted},
                                              version__in={v for _p, v in wanted}).values_list(
            "pk", "product_id", "version")
        return {(product, version): pk for pk, product, version in rows}

    have = versions()
    new_versions = [SoftwareVersion(product_id=product, version=version, sort_key=version_key(version))
                    for product, version in sorted(wanted - set(have))]
    if new_versions:
        bulk.bulk_create(SoftwareVersion, new_versions)
        have.update({(v.product_id, v.version): v.pk for v in new_versions})
    return {ref: have[(found[(reg, repo)], ver)] for ref, (reg, repo, ver) in parsed.items()}


def _installations(workloads: dict[int, list[str]], now: dt.datetime, counts: Counter[str]) -> None:
    """Make the kubernetes-sourced installations on each workload CI (ci id → images) exactly its images."""
    from cmdb.core.services import objects_delete
    from cmdb.software.models import SoftwareInstallation

    if not workloads:
        return
    version_of = _image_versions({ref for refs in workloads.values() for ref in refs})
    wanted = {(ci, version_of[ref]) for ci, refs in workloads.items() for ref in refs}
    current = {(ci, version): pk for pk, ci, version in SoftwareInstallation.objects.filter(
        ci_id__in=list(workloads), source=SOURCE).values_list("pk", "ci_id", "version_id")}
    from cmdb.software.models import SoftwareVersion

    # The new rows get their version (with product) and CI as objects: their change records name them
    # ("docker.io library/nginx 1.25 on web") without a query per row.
    adding = sorted(wanted - set(current))
    versions = SoftwareVersion.objects.select_related("product").in_bulk({v for _ci, v in adding})
    cis = ConfigurationItem.objects.in_bulk({ci for ci, _v in adding})
    new = [SoftwareInstallation(ci=cis[ci], version=versions[version], product=versions[version].product,
                                first_seen=now, last_seen=now, source=SOURCE) for ci, version in adding]
    bulk.bulk_create(SoftwareInstallation, new)
    gone = [pk for key, pk in current.items() if key not in wanted]
    if gone:
        objects_delete(list(SoftwareInstallation.objects.filter(pk__in=gone).select_related("version__product", "ci")))
    kept = [pk for key, pk in current.items() if key in wanted]
    if kept:
        SoftwareInstallation.objects.filter(pk__in=kept).update(last_seen=now)
    counts["images added"] += len(new)
    counts["images removed"] += len(gone)


def _edges(pairs: set[tuple[int, int]], counts: Counter[str]) -> None:
    """Ensure ``workload runs_on namespace`` for each (workload CI, namespace CI): one read, one insert."""
    from cmdb.core.services import objects_create
    from cmdb.services.models import Relationship, RelationshipType
    from cmdb.services.relationships import ensure_builtin_types

    if not pairs:
        return
    rtype = RelationshipType.objects.filter(slug=RUNS_ON).first() or ensure_builtin_types()[RUNS_ON]
    have = set(Relationship.objects.filter(type=rtype, source_id__in={s for s, _t in pairs}).values_list(
        "source_id", "target_id"))
    missing = sorted(pairs - have)
    if missing:
        objects_create(Relationship, [{"source_id": s, "target_id": t, "type": rtype, "origin": "k8s-discovery"}
                                      for s, t in missing])
        counts["relationships created"] += len(missing)


def record(cluster: Cluster, listing: Listing, *, user: Any = None, now: dt.datetime | None = None) -> Counter[str]:
    """Write one cluster's listing into the CMDB (see the module docstring); returns the counts."""
    now = now or timezone.now()
    grace = stale_after()
    counts: Counter[str] = Counter()
    with change_logging(user=user, source=f"k8s-discovery:{cluster.name}"[:100]), transaction.atomic():
        # Nodes, linked to their machines (a link set by hand is kept).
        nodes = {n.name: n for n in Node.objects.filter(cluster=cluster)}
        links = _machine_links(listing.nodes, user)
        wanted_nodes: dict[str, dict[str, Any]] = {}
        for name, values in listing.nodes.items():
            values = {**values, "stale": False}
            if not (name in nodes and nodes[name].link_rule == "manual"):
                device, vm, rule = links[name]
                values.update(device_id=device, virtual_machine_id=vm, link_rule=rule)
            wanted_nodes[name] = values
        _reconcile_rows(nodes, wanted_nodes, lambda name, values: Node(
            cluster=cluster, name=name, tenant_id=cluster.tenant_id, **values), counts, "nodes", now, grace)

        # Namespaces: the ones the CMDB does not declare are recorded as unmanaged.
        namespaces = {n.name: n for n in Namespace.objects.filter(cluster=cluster).select_related("tenant")}
        rows = _reconcile_rows(namespaces, {name: {"stale": False} for name in listing.namespaces},
                               lambda name, values: Namespace(
                                   cluster=cluster, name=name, managed=False, unmanaged=True,
                                   tenant_id=cluster.tenant_id, description="Found on the cluster by discovery",
                                   **values), counts, "namespaces", now, grace)
        counts["namespaces unmanaged"] = sum(1 for name in listing.namespaces if rows[name].unmanaged)

        # Workloads in their namespaces, with their images and the runs_on edges.
        workloads = {(w.namespace.name, w.kind, w.name): w
                     for w in Workload.objects.filter(cluster=cluster).select_related("namespace")}
        wanted_workloads = {key: {**values, "stale": False, "tenant_id": rows[key[0]].tenant_id}
                            for key, values in listing.workloads.items() if key[0] in rows}
        seen = _reconcile_rows(workloads, wanted_workloads, lambda key, values: Workload(
            cluster=cluster, namespace=rows[key[0]], kind=key[1], name=key[2], **values),
            counts, "workloads", now, grace)
        _edges({(w.ci_id, rows[key[0]].ci_id) for key, w in seen.items()}, counts)
        _installations({w.ci_id: wanted_workloads[key]["images"] for key, w in seen.items()}, now, counts)
    counts["nodes"], counts["namespaces"], counts["workloads"] = (
        len(listing.nodes), len(listing.namespaces), len(listing.workloads))
    return counts


def discover_cluster(cluster: Cluster, *, user: Any = None, now: dt.datetime | None = None) -> ClusterDiscovery:
    """List one cluster and record what it has; a failure to reach it is the result's ``error``."""
    result = ClusterDiscovery(cluster=cluster.name)
    try:
        conn = sync.connect(cluster)
    except sync.ClusterError as exc:
        result.error = f"cluster {cluster.name}: {exc}"
        return result
    try:
        listing = read_cluster(conn, result)
    except sync._transport_errors() as exc:
        result.error = f"cluster {cluster.name} ({cluster.api_url}): {sync.describe_error(exc)}"
        return result
    finally:
        result.calls = conn.calls
        conn.close()
    result.counts = record(cluster, listing, user=user, now=now)
    if result.served_version and result.served_version != cluster.served_version:
        Cluster.objects.filter(pk=cluster.pk).update(served_version=result.served_version)
    return result


def discover(*, clusters: Iterable[str] | None = None, user: Any = None,
             now: dt.datetime | None = None) -> list[ClusterDiscovery]:
    """Discover every cluster (or those named) that ``user`` may change (all of them without a user)."""
    queryset = Cluster.objects.all()
    if clusters is not None:
        queryset = queryset.filter(name__in=list(clusters))
    if user is not None:
        from cmdb.users.permissions import restrict

        queryset = restrict(queryset, user, "change")
    return [discover_cluster(cluster, user=user, now=now) for cluster in queryset.order_by("name")]

