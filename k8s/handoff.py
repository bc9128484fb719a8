"""The Kubernetes domain's answer to ``kubernetes_objects_published`` (:mod:`cmdb.core.hooks`).

Other domains render objects for a cluster they do not manage and hand them over: the VDI domain the
``VirtualMachinePool`` / ``VirtualMachine`` objects of its KubeVirt pools, the backup domain one ``CronJob``
per (namespace, policy).  This module treats them like the domain's own desired objects: on the named
cluster CI, with the cluster's field manager and credentials (:func:`k8s.sync.connect`), planned as the
server's own dry run of a server-side apply, applied without ``force``, and pruned by label.

Why here and not in :mod:`k8s.sync`: that module's kinds are fixed core and RBAC types a cluster always
serves, while handed-over kinds may be CRDs a cluster does not have (KubeVirt) or live at a version that
depends on the server (CronJob: ``batch/v1beta1`` only up to 1.20).  Their group versions and plurals are
discovered per call (``/apis/<group>/<version>``), a kind the cluster does not serve is an error item naming
the apiVersion and kind instead of failing the namespaces' plan, and :data:`FALLBACK_VERSIONS` says which
older version carries the same fields (a sender names ``batch/v1``; a 1.20 server gets ``batch/v1beta1``).

Every object we write carries the cluster's ``managed-by`` label and ``cmdb/owner-set=<owner>``; observing
is one label-selected LIST per kind (so a no-change plan costs a discovery and a LIST per kind), and live
objects of the owner that the published set no longer contains are ``delete`` items.

**Who owns what.**  The handed-over objects are written with the cluster's field manager (``Cluster.field_manager``,
default ``cmdb``) and its managed-by label, the same as the namespaces' objects, but they belong to the
sender (the vdi or backup reconciler): it decides what exists, when it is applied and when it is deleted.
The k8s reconciler's own runs (:func:`k8s.sync.plan`) list only the kinds of :data:`k8s.sync.KINDS`, so they
never see, diff or prune a VirtualMachine, VirtualMachinePool or CronJob (tests/vdi/test_kubevirt_handoff.py,
tests/backup/test_k8s_cronjobs.py); and the deletions planned here are limited to the owner's label, so one
owner's handoff never deletes another owner's objects or the namespaces' own.  The one reach across:
pruning a *namespace* the CMDB no longer declares would delete everything in it on the cluster, handed-over
objects included, so the k8s reconciler refuses that prune while the namespace holds objects of an owner
(:func:`held_objects`): the pool or the backup policy is removed or moved first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

from .desired import MANAGED_BY, PREFIX, label_value
from .models import Cluster

OWNER_LABEL = f"{PREFIX}owner-set"
#: (group version, plural, kind) of the kinds handed over through the hook, checked before a namespace is
#: pruned.  Both CronJob versions: a server serves one or both (the same objects), or, for a version it does
#: not serve, answers 404 -- which holds nothing.
HANDED_OVER: tuple[tuple[str, str, str], ...] = (
    ("pool.kubevirt.io/v1alpha1", "virtualmachinepools", "VirtualMachinePool"),
    ("kubevirt.io/v1", "virtualmachines", "VirtualMachine"),
    ("batch/v1", "cronjobs", "CronJob"),
    ("batch/v1beta1", "cronjobs", "CronJob"),
)
#: (apiVersion, kind) a sender names → older versions with the same fields, tried in order when the server
#: does not serve the kind at the named version.  ``batch/v1`` CronJobs arrived in 1.21; 1.20 (and the test
#: server) serves them at ``batch/v1beta1`` only.  The object is then written (and listed) at the served one.
FALLBACK_VERSIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("batch/v1", "CronJob"): ("batch/v1beta1",),
}


def held_objects(conn: Any, namespace: str) -> list[str]:
    """The handed-over objects in ``namespace`` (``"VirtualMachinePool kv (vdi-pool-kv)"``), written with the
    connection's field manager: what pruning the namespace would take with it.  One label-selected LIST per
    kind and version (``limit`` 20), only asked when a namespace is about to be pruned; a kind or version the
    cluster does not serve (404) holds nothing.  Any other error is raised: a prune that cannot be checked is
    not done.  (A list's items of built-in kinds carry no ``kind``, hence the kind from the table.)
    """
    from kubernetes.client.rest import ApiException

    selector = f"{MANAGED_BY}={conn.cluster.field_manager},{OWNER_LABEL}"
    found: set[str] = set()  # a CronJob served at two versions is listed twice
    for version, plural, kind_name in HANDED_OVER:
        try:
            answer = conn.call("guard", "GET", _path(version, plural, namespace),
                               query=[("labelSelector", selector), ("limit", "20")])
        except ApiException as exc:
            if exc.status == 404:
                continue
            raise
        for obj in answer.get("items") or []:
            meta = obj.get("metadata") or {}
            kind = obj.get("kind") or kind_name
            found.add(f"{kind} {meta.get('name')} ({(meta.get('labels') or {}).get(OWNER_LABEL, '')})")
    return sorted(found)


@dataclass
class Item:
    action: str  # create | update | delete | none | error
    kind: str
    namespace: str
    name: str
    diff: str = ""
    status: str = "planned"  # planned | ok | failed
    message: str = ""
    api_version: str = ""
    plural: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace, self.name)


def _resources(conn: Any, api_version: str) -> dict[str, tuple[str, bool]] | None:
    """kind → (plural, namespaced) that the server serves at ``api_version``; None if it serves none."""
    from kubernetes.client.rest import ApiException

    try:
        answer = conn.call("discovery", "GET", f"/apis/{api_version}")
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return {r["kind"]: (r["name"], bool(r.get("namespaced"))) for r in answer.get("resources") or []
            if "/" not in r["name"]}


def _path(api_version: str, plural: str, namespace: str, name: str = "") -> str:
    where = f"/namespaces/{quote(namespace)}" if namespace else ""
    return f"/apis/{api_version}{where}/{plural}" + (f"/{quote(name)}" if name else "")


def _labelled(obj: dict[str, Any], manager: str, owner: str) -> dict[str, Any]:
    meta = dict(obj.get("metadata") or {})
    meta["labels"] = {**(meta.get("labels") or {}), MANAGED_BY: manager, OWNER_LABEL: owner}
    return {**obj, "metadata": meta}


def handle(*, cluster: str, owner: str, objects: list[dict[str, Any]], kinds: list[tuple[str, str]] = (),
           apply: bool = False, only: list[tuple[str, str, str]] | None = None, user: Any = None) -> dict[str, Any]:
    """Plan (and with ``apply`` carry out) the owner's objects on ``cluster``; see the hook's documentation."""
    from kubernetes.client.rest import ApiException

    from . import sync

    owner = label_value(owner)
    found = Cluster.objects.filter(name=cluster)
    if user is not None:
        from cmdb.users.permissions import restrict

        found = restrict(found, user, "change" if apply else "view")
    target = found.first()
    if target is None:
        return {"error": f"no Kubernetes cluster {cluster!r} in the CMDB that you may "
                         f"{'change' if apply else 'view'}", "items": []}
    try:
        conn = sync.connect(target)
    except sync.ClusterError as exc:
        return {"error": f"cluster {cluster}: {exc}", "items": []}
    manager = target.field_manager
    items: list[Item] = []
    try:
        named = {(o["apiVersion"], o["kind"]) for o in objects} | set(kinds)
        versions = sorted({v for v, _k in named} | {f for v, k in named for f in FALLBACK_VERSIONS.get((v, k), ())})
        served = {v: _resources(conn, v) for v in versions}

        def resolve(version: str, kind: str) -> str | None:
            """The version the server serves ``kind`` at: the named one, else its first served fallback."""
            for candidate in (version, *FALLBACK_VERSIONS.get((version, kind), ())):
                if kind in (served.get(candidate) or {}):
                    return candidate
            return None

        wanted: dict[tuple[str, str, str], dict[str, Any]] = {}
        listed: set[tuple[str, str]] = set()
        for obj in objects:
            meta = obj["metadata"]
            item = Item("create", obj["kind"], meta.get("namespace") or "", meta["name"])
            version = resolve(obj["apiVersion"], obj["kind"])
            if version is None:
                tried = (obj["apiVersion"], *FALLBACK_VERSIONS.get((obj["apiVersion"], obj["kind"]), ()))
                items.append(Item("error", item.kind, item.namespace, item.name, status="failed",
                                  message=f"the cluster does not serve {obj['apiVersion']} {obj['kind']}"
                                          + (f" (nor {', '.join(tried[1:])})" if len(tried) > 1 else "")
                                          + f": install the API that provides {obj['kind']} (e.g. its CRD) "
                                            "or use another cluster"))
                continue
            item.api_version, item.plural = version, served[version][obj["kind"]][0]
            wanted[item.key] = _labelled({**obj, "apiVersion": version}, manager, owner)
            listed.add((version, obj["kind"]))
            items.append(item)
        for version, kind in kinds:
            found_at = resolve(version, kind)
            if found_at is not None:
                listed.add((found_at, kind))
        live: dict[tuple[str, str, str], dict[str, Any]] = {}
        selector = f"{MANAGED_BY}={manager},{OWNER_LABEL}={owner}"
        plurals: dict[str, tuple[str, str]] = {}
        for version, kind in sorted(listed):
            plural = served[version][kind][0]  # type: ignore[index]
            plurals[kind] = (version, plural)
            answer = conn.call("list", "GET", _path(version, plural, ""), query=[("labelSelector", selector)])
            for obj in answer.get("items") or []:
                meta = obj.get("metadata") or {}
                live[(kind, meta.get("namespace") or "", meta["name"])] = obj
        for item in items:
            if item.action == "error":
                continue
            body, current = wanted[item.key], live.get(item.key)
            if current is not None and sync.in_sync(body, current, manager):
                item.action = "none"
                continue
            item.action = "update" if current is not None else "create"
            try:
                answer = conn.call("apply_dry_run", "PATCH", _path(item.api_version, item.plural, item.namespace,
                                                                   item.name),
                                   query=[("fieldManager", manager), ("dryRun", "All")], body=body,
                                   content_type="application/apply-patch+yaml")
                item.diff = sync.render_diff(current, answer)
                if current is not None and not item.diff:
                    item.action = "none"
            except ApiException as exc:
                item.action, item.status = "error", "failed"
                item.message = sync.conflict_message(exc) if exc.status == 409 else sync.describe_error(exc)
        for key in sorted(set(live) - set(wanted)):
            kind, namespace, name = key
            version, plural = plurals[kind]
            items.append(Item("delete", kind, namespace, name, diff=sync.render_diff(live[key], None),
                              api_version=version, plural=plural))
        if apply:
            chosen = None if only is None else {tuple(k) for k in only}
            for item in items:
                if item.action in ("none", "error") or (chosen is not None and item.key not in chosen):
                    continue
                path = _path(item.api_version, item.plural, item.namespace, item.name)
                try:
                    if item.action == "delete":
                        try:
                            # Background: gone now, its dependents (a CronJob's Jobs) collected after.  A CronJob's
                            # default at batch/v1beta1 is to orphan them, through a finalizer that only the
                            # garbage collector removes: the object would linger as "being deleted".
                            conn.call("delete", "DELETE", path, query=[("propagationPolicy", "Background")])
                        except ApiException as exc:
                            if exc.status != 404:  # gone already: what we wanted
                                raise
                    else:
                        conn.call("apply", "PATCH", path, query=[("fieldManager", manager)], body=wanted[item.key],
                                  content_type="application/apply-patch+yaml")
                    item.status, item.message = "ok", f"{item.action}d"
                except ApiException as exc:
                    item.status = "failed"
                    item.message = sync.conflict_message(exc) if exc.status == 409 else sync.describe_error(exc)
    except sync._transport_errors() as exc:
        return {"error": f"cluster {cluster} ({target.api_url}): {sync.describe_error(exc)}", "items": []}
    finally:
        conn.close()
    return {"error": "", "items": [{k: v for k, v in asdict(i).items() if k not in ("api_version", "plural")}
                                   for i in items]}


def objects_published(sender: Any = None, **kwargs: Any) -> dict[str, Any]:
    """The receiver of ``kubernetes_objects_published`` (connected in :mod:`k8s.receivers`)."""
    return handle(cluster=kwargs["cluster"], owner=kwargs["owner"], objects=list(kwargs.get("objects") or ()),
                  kinds=[tuple(k) for k in kwargs.get("kinds") or ()], apply=bool(kwargs.get("apply")),
                  only=kwargs.get("only"), user=kwargs.get("user"))
