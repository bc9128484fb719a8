"""Plan and apply the CMDB's namespaces on a cluster with server-side apply.

The flow for one cluster (:func:`plan_cluster`, :func:`apply_plan`):

1. **connect** with the official ``kubernetes`` client: the cluster's URL, its CA (TLS is always
   verified) and the bearer token its secret reference resolves to;
2. **discover** what the server serves (``/version``, ``/api``, ``/apis``): the group versions of
   the kinds we write are the server's preferred ones, never assumed;
3. **observe** with one label-selected LIST per resource type (``app.kubernetes.io/managed-by=
   <field manager>``), never a GET per object, so a no-change plan of any size costs five LISTs;
4. **plan** per desired object: an object that is live, carries every desired value and whose
   fields owned by our manager are exactly the desired ones needs nothing; any other goes to the
   server as a server-side apply with ``dryRun=All`` (so defaults and admission are the server's),
   and the difference between the live object and the server's answer is the readable diff.  A 409
   is a *conflict* item naming the other field manager and the field: we never ``force``.  Live
   objects with our label that the CMDB no longer wants are *delete* items (pruning);
5. **apply** the plan's items: server-side apply with our field manager (namespaces first),
   deletions only when the run allows pruning; one outcome per item, a failure never hides others;
6. **verify** (:func:`verify`): a fresh plan, which is empty when everything went through.

Plan items and outcomes are plain dataclasses; nothing here knows the reconcile framework
(:mod:`k8s.reconcilers` adapts).  A wrong token, a refused TLS handshake or an unreachable server
yields a :class:`ClusterPlan` with ``error`` naming the cluster, not an exception.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson

from .desired import MANAGED_BY, QUOTA_NAME, DesiredObject, desired_objects, managed_namespaces
from .models import CREDENTIALS_POLICY, Cluster, Namespace, NamespaceStatus

#: kind → (API group, plural, namespaced), for every kind the CMDB writes.
KINDS: dict[str, tuple[str, str, bool]] = {
    "Namespace": ("", "namespaces", False),
    "ResourceQuota": ("", "resourcequotas", True),
    "LimitRange": ("", "limitranges", True),
    "RoleBinding": ("rbac.authorization.k8s.io", "rolebindings", True),
    "NetworkPolicy": ("networking.k8s.io", "networkpolicies", True),
}
#: Apply order (deletes run in reverse): a namespace before what lives in it.
KIND_ORDER = {kind: index for index, kind in enumerate(KINDS)}
#: Never part of a diff: bookkeeping of the server.
IGNORED_META = ("managedFields", "resourceVersion", "generation", "creationTimestamp", "uid", "selfLink")
TIMEOUT = (5, 60)


class ClusterError(Exception):
    """Talking to a cluster failed as a whole (unreachable, refused token, missing secret)."""


@dataclass(frozen=True)
class PlanItem:
    """One planned action on one object: ``create``, ``update``, ``delete`` or ``conflict``/``error``
    (failed while planning; never applied).  ``diff`` is readable lines, ``body`` what apply sends."""

    cluster: str
    action: str
    kind: str
    namespace: str
    name: str
    diff: str = ""
    error: str = ""
    ci_id: int | None = None
    api_version: str = ""
    body: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def target(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"

    @property
    def failed(self) -> bool:
        return self.action in ("conflict", "error")


@dataclass(frozen=True)
class ItemOutcome:
    """What happened to one plan item: ``ok``, ``failed`` or ``skipped`` (with why)."""

    cluster: str
    target: str
    status: str
    message: str = ""


@dataclass
class ClusterPlan:
    """A cluster's plan: its items, or the error that kept us from planning; the API calls it cost."""

    cluster: str
    cluster_id: int
    items: list[PlanItem] = field(default_factory=list)
    error: str = ""
    served_version: str = ""
    calls: Counter[str] = field(default_factory=Counter)
    #: API group → group version, as discovered for the plan (apply reuses it).
    versions: dict[str, str] = field(default_factory=dict)
    #: The namespaces planned, and the ``status`` of their live ``cmdb-quota`` (``hard``, ``used``).
    namespaces: list[str] = field(default_factory=list)
    quota_status: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def changes(self) -> list[PlanItem]:
        return [item for item in self.items if not item.failed]


@dataclass
class Connection:
    """An ``ApiClient`` for one cluster that counts its calls by kind (``list``, ``apply``, ...)."""

    cluster: Cluster
    api: Any
    ca_file: str | None
    calls: Counter[str] = field(default_factory=Counter)
    versions: dict[str, str] = field(default_factory=dict)

    def call(self, counter: str, method: str, path: str, *, query: list[tuple[str, str]] | None = None,
             body: Any = None, content_type: str = "application/json") -> Any:
        self.calls[counter] += 1
        headers = {"Accept": "application/json", "Content-Type": content_type}
        request = self.api.param_serialize(method, path, query_params=query or [], header_params=headers, body=body,
                                           auth_settings=["BearerToken"])
        response = self.api.call_api(*request, _request_timeout=TIMEOUT)
        raw = response.read()
        if not 200 <= response.status <= 299:
            from kubernetes.client.rest import ApiException

            raise ApiException.from_response(http_resp=response, body=raw.decode("utf-8", "replace"), data=None)
        # orjson rather than the client's deserializer: a LIST of thousands of objects (with their
        # managedFields) is most of a no-change plan's time.
        return orjson.loads(raw)

    def close(self) -> None:
        self.api.close()
        if self.ca_file:
            os.unlink(self.ca_file)


def connect(cluster: Cluster) -> Connection:
    """An API client for ``cluster``; raises :class:`ClusterError` when its token cannot be read."""
    from kubernetes import client

    from cmdb.core.secrets import SecretUnavailable, resolve

    try:
        token = resolve(cluster.credentials, CREDENTIALS_POLICY)
    except SecretUnavailable as exc:
        raise ClusterError(f"credentials: {exc}") from None
    config = client.Configuration()
    config.host = cluster.api_url.rstrip("/")
    config.api_key = {"authorization": token}
    config.api_key_prefix = {"authorization": "Bearer"}
    config.verify_ssl = True
    config.retries = 0
    ca_file = None
    if cluster.ca_certificate.strip():
        handle, ca_file = tempfile.mkstemp(prefix="cmdb-k8s-ca-", suffix=".crt")
        with os.fdopen(handle, "w") as out:
            out.write(cluster.ca_certificate)
        config.ssl_ca_cert = ca_file
    return Connection(cluster, client.ApiClient(config), ca_file)


def describe_error(exc: BaseException) -> str:
    """One line for an API or transport error (no traceback, never the token)."""
    from kubernetes.client.rest import ApiException

    if isinstance(exc, ApiException):
        message = exc.reason or ""
        with contextlib.suppress(ValueError, AttributeError):
            message = json.loads(exc.body or "{}").get("message") or message
        if not exc.status:  # a transport error the client wrapped (TLS)
            return " ".join(str(exc.reason or "").split())
        return f"HTTP {exc.status}: {message}".strip()
    reason = getattr(exc, "reason", None)
    return f"{type(exc).__name__}: {reason or exc}"


def _transport_errors() -> tuple[type[BaseException], ...]:
    import urllib3
    from kubernetes.client.rest import ApiException

    return (ApiException, urllib3.exceptions.HTTPError, OSError, ClusterError)


# --- discovery and paths -------------------------------------------------------------------------------------


def discover(conn: Connection) -> str:
    """Fill ``conn.versions`` (API group → the served group version we use) and return the server version."""
    version = conn.call("discovery", "GET", "/version").get("gitVersion", "")
    core = conn.call("discovery", "GET", "/api").get("versions") or []
    if "v1" in core:
        conn.versions[""] = "v1"
    for group in conn.call("discovery", "GET", "/apis").get("groups") or []:
        preferred = (group.get("preferredVersion") or {}).get("groupVersion")
        if preferred:
            conn.versions[group["name"]] = preferred
    missing = sorted({g or "core" for g, _plural, _ns in KINDS.values()} - {g or "core" for g in conn.versions})
    if missing:
        raise ClusterError(f"the server does not serve the API groups {', '.join(missing)}")
    return version


def _base(conn: Connection, kind: str) -> str:
    group, _plural, _namespaced = KINDS[kind]
    version = conn.versions[group]
    return f"/api/{version}" if group == "" else f"/apis/{version}"


def object_path(conn: Connection, kind: str, namespace: str, name: str) -> str:
    _group, plural, namespaced = KINDS[kind]
    where = f"/namespaces/{quote(namespace)}" if namespaced else ""
    return f"{_base(conn, kind)}{where}/{plural}/{quote(name)}"


def api_version(conn: Connection, kind: str) -> str:
    return conn.versions[KINDS[kind][0]]


# --- observe ---------------------------------------------------------------------------------------------------


def observe(conn: Connection, namespace: str | None = None) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every live object of our kinds labelled as managed by this cluster's field manager: one LIST per kind.

    With ``namespace`` (a plan of one namespace, e.g. after its CI was edited) each LIST covers only that
    namespace (the Namespace object itself by a field selector), so the answer does not grow with the cluster.
    Only :data:`KINDS` are listed: objects other domains hand over through the same field manager and label
    (KubeVirt desktops, backup CronJobs: :mod:`k8s.handoff`) are their sender's to plan and prune, never this
    reconciler's.
    """
    selector = f"{MANAGED_BY}={conn.cluster.field_manager}"
    live: dict[tuple[str, str, str], dict[str, Any]] = {}
    for kind, (_group, plural, namespaced) in KINDS.items():
        query = [("labelSelector", selector)]
        path = f"{_base(conn, kind)}/{plural}"
        if namespace is not None and namespaced:
            path = f"{_base(conn, kind)}/namespaces/{quote(namespace)}/{plural}"
        elif namespace is not None:
            query.append(("fieldSelector", f"metadata.name={namespace}"))
        answer = conn.call("list", "GET", path, query=query)
        for item in answer.get("items") or []:
            item.setdefault("apiVersion", api_version(conn, kind))  # a list's items carry neither
            item.setdefault("kind", kind)
            meta = item.get("metadata") or {}
            live[(kind, meta.get("namespace") or "", meta["name"])] = item
    return live


# --- comparison and diffs --------------------------------------------------------------------------------------


def _leaves(value: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Flatten maps to ``path → value``; lists and empty maps are leaves (the server treats them whole)."""
    if isinstance(value, dict) and value:
        out: dict[tuple[str, ...], Any] = {}
        for key, item in value.items():
            out.update(_leaves(item, (*path, key)))
        return out
    return {path: value}


def _owned_leaves(fields: dict[str, Any], path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """The leaf paths of a ``fieldsV1`` set, with lists as leaves like :func:`_leaves`."""
    out: set[tuple[str, ...]] = set()
    for key, sub in fields.items():
        if not key.startswith("f:"):
            continue
        here = (*path, key[2:])
        children = {k for k in (sub or {}) if k != "."}
        if children and all(k.startswith("f:") for k in children):
            out |= _owned_leaves(sub, here)
        else:
            out.add(here)
    return out


_SKIP_PATHS = {("kind",), ("apiVersion",), ("metadata", "name"), ("metadata", "namespace")}


def _same(desired: Any, live: Any) -> bool:
    if desired == live:
        return True
    if isinstance(desired, str) and isinstance(live, str):
        from kubernetes.utils import parse_quantity

        try:
            return parse_quantity(desired) == parse_quantity(live)
        except ValueError:
            return False
    if isinstance(desired, list) and isinstance(live, list) and len(desired) == len(live):
        return all(_same_tree(d, v) for d, v in zip(desired, live, strict=True))
    return False


def _same_tree(desired: Any, live: Any) -> bool:
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        return all(_same_tree(value, live.get(key)) for key, value in desired.items())
    return _same(desired, live)


def _covered(desired: dict[str, Any], live: Any, path: tuple[str, ...], wanted: set[tuple[str, ...]]) -> bool:
    """Whether ``live`` carries every leaf of ``desired`` (leaves as :func:`_leaves` cuts them), adding the leaf
    paths to ``wanted`` on the way.  One walk down both trees together: looking each leaf up from the root
    again cost a no-change plan of 500 namespaces a tenth of a second."""
    for key, value in desired.items():
        here = (*path, key)
        if isinstance(value, dict) and value:
            if not _covered(value, live.get(key) if isinstance(live, dict) else None, here, wanted):
                return False
            continue
        if here in _SKIP_PATHS:
            continue
        wanted.add(here)
        if not isinstance(live, dict) or key not in live:
            if isinstance(value, dict | list) and not value:
                continue  # an empty map or list the server does not keep
            return False
        if not _same_tree(value, live[key]):
            return False
    return True


#: ``fieldsV1`` (as the server sent it) → its leaf paths.  Objects of one kind written by us carry the same
#: field set (values are not part of it), so a plan of thousands of objects computes a handful of them.
_OWNED_CACHE: dict[bytes, frozenset[tuple[str, ...]]] = {}
_OWNED_CACHE_LIMIT = 4096


def _owned(fields: dict[str, Any]) -> frozenset[tuple[str, ...]]:
    key = orjson.dumps(fields)
    found = _OWNED_CACHE.get(key)
    if found is None:
        if len(_OWNED_CACHE) >= _OWNED_CACHE_LIMIT:
            _OWNED_CACHE.clear()
        found = _OWNED_CACHE[key] = frozenset(_owned_leaves(fields))
    return found


def in_sync(desired: dict[str, Any], live: dict[str, Any], manager: str) -> bool:
    """Whether applying ``desired`` would change nothing: ``live`` carries every desired value (quantities
    compared by value) and our manager owns exactly the desired fields (no field of ours to remove)."""
    wanted: set[tuple[str, ...]] = set()
    if not _covered(desired, live, (), wanted):
        return False
    owned: set[tuple[str, ...]] = set()
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            owned |= _owned(entry.get("fieldsV1") or {})
    return owned == wanted


def _comparable(obj: dict[str, Any] | None) -> dict[tuple[str, ...], Any]:
    if not obj:
        return {}
    obj = {key: value for key, value in obj.items() if key != "status"}
    meta = {key: value for key, value in (obj.get("metadata") or {}).items() if key not in IGNORED_META}
    return _leaves({**obj, "metadata": meta})


def render_diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """Readable lines, one per changed leaf: ``+ path: value``, ``- path: value``, ``~ path: old → new``."""
    old, new = _comparable(before), _comparable(after)
    lines = []
    for path in sorted(set(old) | set(new), key=lambda p: [str(x) for x in p]):
        name = ".".join(path)
        if path not in old:
            lines.append(f"+ {name}: {json.dumps(new[path], sort_keys=True)}")
        elif path not in new:
            lines.append(f"- {name}: {json.dumps(old[path], sort_keys=True)}")
        elif old[path] != new[path]:
            lines.append(f"~ {name}: {json.dumps(old[path], sort_keys=True)} → {json.dumps(new[path], sort_keys=True)}")
    return "\n".join(lines)


def conflict_message(exc: Any) -> str:
    """``conflict with "kubectl-edit" using v1 at .spec.hard.pods; …`` from a 409's causes."""
    try:
        status = json.loads(exc.body or "{}")
    except ValueError:
        return describe_error(exc)
    causes = (status.get("details") or {}).get("causes") or []
    parts = [f"{cause.get('message', '')} at {cause.get('field', '')}".strip() for cause in causes]
    return "; ".join(parts) or status.get("message") or describe_error(exc)


# --- plan ------------------------------------------------------------------------------------------------------


def _apply(conn: Connection, kind: str, namespace: str, name: str, body: dict[str, Any], *, dry_run: bool) -> Any:
    query = [("fieldManager", conn.cluster.field_manager)]
    if dry_run:
        query.append(("dryRun", "All"))
    return conn.call("apply_dry_run" if dry_run else "apply", "PATCH", object_path(conn, kind, namespace, name),
                     query=query, body=body, content_type="application/apply-patch+yaml")


def _plan_object(
    conn: Connection, obj: DesiredObject, live: dict[str, Any] | None, creating: set[str]
) -> PlanItem | None:
    from kubernetes.client.rest import ApiException

    name = conn.cluster.name
    version = api_version(conn, obj.kind)
    body = {"apiVersion": version, **obj.body}
    common = {"cluster": name, "kind": obj.kind, "namespace": obj.namespace or "", "name": obj.name,
              "ci_id": obj.ci_id, "api_version": version, "body": body}
    if live is not None and in_sync(body, live, conn.cluster.field_manager):
        return None
    action = "create" if live is None else "update"
    if obj.namespace and obj.namespace in creating:
        # Its namespace does not exist yet, so the server cannot dry-run it: the diff is what we send.
        return PlanItem(action=action, diff=render_diff(None, body), **common)
    try:
        answer = _apply(conn, obj.kind, obj.namespace or "", obj.name, body, dry_run=True)
    except ApiException as exc:
        if exc.status == 409:
            return PlanItem(action="conflict", error=conflict_message(exc), **common)
        return PlanItem(action="error", error=describe_error(exc), **common)
    diff = render_diff(live, answer)
    if live is not None and not diff:
        return None  # only field ownership differs, and applying would change no value
    return PlanItem(action=action, diff=diff, **common)


def _prune_refusal(conn: Connection, namespace: str) -> str:
    """Why the namespace must not be pruned now ("" when it may): deleting a namespace deletes everything in
    it, and objects another domain handed over (:mod:`k8s.handoff`: a VDI pool's desktops, a backup policy's
    CronJobs) are their owner's to remove.  Asked only for a namespace about to be pruned, so a plan without one
    costs nothing."""
    from kubernetes.client.rest import ApiException

    from .handoff import held_objects

    try:
        held = held_objects(conn, namespace)
    except ApiException as exc:
        return f"not pruned: could not check for objects other domains manage in it ({describe_error(exc)})"
    if not held:
        return ""
    more = f" and {len(held) - 3} more" if len(held) > 3 else ""
    return (f"not pruned: it holds objects another domain manages ({', '.join(held[:3])}{more}); "
            "remove them through their owner (e.g. the VDI pool) first")


def plan_cluster(cluster: Cluster, objects: list[DesiredObject], *, prune_scope: set[str] | None) -> ClusterPlan:
    """The plan for one cluster.  ``prune_scope``: namespaces whose unwanted objects of ours become
    delete items (``None``: every object of ours on the cluster, for an unrestricted ``all`` scope)."""
    result = ClusterPlan(cluster=cluster.name, cluster_id=cluster.pk,
                         namespaces=sorted({o.name for o in objects if o.kind == "Namespace"}))
    try:
        conn = connect(cluster)
    except ClusterError as exc:
        result.error = f"cluster {cluster.name}: {exc}"
        return result
    try:
        result.served_version = discover(conn)
        # One namespace in scope (and pruning limited to it): observe only that namespace.
        only = next(iter(prune_scope)) if prune_scope is not None and len(prune_scope) == 1 else None
        live = observe(conn, only)
        for (kind, namespace, name), item in live.items():
            if kind == "ResourceQuota" and name == QUOTA_NAME:
                result.quota_status[namespace] = item.get("status") or {}
        wanted = {obj.key for obj in objects}
        creating = {obj.name for obj in objects if obj.kind == "Namespace" and obj.key not in live}
        for obj in sorted(objects, key=lambda o: (KIND_ORDER[o.kind], o.namespace or "", o.name)):
            item = _plan_object(conn, obj, live.get(obj.key), creating)
            if item is not None:
                result.items.append(item)
        for key in sorted(set(live) - wanted, key=lambda k: (-KIND_ORDER[k[0]], k[1], k[2])):
            kind, namespace, name = key
            home = name if kind == "Namespace" else namespace
            if prune_scope is not None and home not in prune_scope:
                continue
            obj_live = live[key]
            labels = (obj_live.get("metadata") or {}).get("labels") or {}
            if kind == "Namespace":
                refusal = _prune_refusal(conn, name)
                if refusal:
                    result.items.append(PlanItem(cluster=cluster.name, action="error", kind=kind, namespace="",
                                                 name=name, error=refusal))
                    continue
            result.items.append(PlanItem(
                cluster=cluster.name, action="delete", kind=kind, namespace=namespace, name=name,
                diff=render_diff(obj_live, None), api_version=obj_live.get("apiVersion", ""),
                ci_id=int(labels["cmdb/ci-id"]) if str(labels.get("cmdb/ci-id", "")).isdigit() else None))
    except _transport_errors() as exc:
        result.error = f"cluster {cluster.name} ({cluster.api_url}): {describe_error(exc)}"
        result.items = []
    finally:
        result.calls = conn.calls
        result.versions = dict(conn.versions)
        conn.close()
    return result


def plan(*, user: Any = None, scope: str = "all", namespaces: Iterable[Namespace] | None = None) -> list[ClusterPlan]:
    """Plans for every cluster with a managed namespace in ``scope`` that ``user`` may change.

    Pruning candidates are limited to the namespaces in scope, unless the scope is ``all`` without a
    user (then anything of ours the CMDB no longer wants, deleted namespaces included).
    """
    if namespaces is None:
        namespaces = managed_namespaces(user=user, scope=scope, action="change")
    namespaces = list(namespaces)
    by_cluster = desired_objects(namespaces)
    unrestricted = user is None and scope in ("", "all")
    clusters = Cluster.objects.filter(pk__in=set(by_cluster)) if not unrestricted else Cluster.objects.all()
    plans = []
    for cluster in clusters.order_by("name"):
        in_scope = None if unrestricted else {ns.name for ns in namespaces if ns.cluster_id == cluster.pk}
        plans.append(plan_cluster(cluster, by_cluster.get(cluster.pk, []), prune_scope=in_scope))
    return plans


# --- apply -----------------------------------------------------------------------------------------------------


def apply_plan(plans: list[ClusterPlan], *, prune: bool = False) -> list[ItemOutcome]:
    """Carry out the plans' items; one outcome per item.  Deletions only with ``prune``; conflicts and
    planning errors are reported again as failed, never forced."""
    outcomes: list[ItemOutcome] = []
    for cluster_plan in plans:
        if cluster_plan.error:
            outcomes.append(ItemOutcome(cluster_plan.cluster, f"cluster {cluster_plan.cluster}", "failed",
                                        cluster_plan.error))
            continue
        if not cluster_plan.items:
            continue
        cluster = Cluster.objects.get(pk=cluster_plan.cluster_id)
        try:
            conn = connect(cluster)
        except ClusterError as exc:
            outcomes.append(ItemOutcome(cluster.name, f"cluster {cluster.name}", "failed",
                                        f"cluster {cluster.name}: {exc}"))
            continue
        try:
            if cluster_plan.versions:
                conn.versions.update(cluster_plan.versions)
            else:
                discover(conn)
            for item in cluster_plan.items:
                outcomes.append(_apply_item(conn, item, prune=prune))
        except _transport_errors() as exc:
            done = {outcome.target for outcome in outcomes if outcome.cluster == cluster.name}
            message = f"cluster {cluster.name} ({cluster.api_url}): {describe_error(exc)}"
            outcomes += [ItemOutcome(cluster.name, item.target, "failed", message)
                         for item in cluster_plan.items if item.target not in done]
        finally:
            cluster_plan.calls.update(conn.calls)
            conn.close()
    return outcomes


def _apply_item(conn: Connection, item: PlanItem, *, prune: bool) -> ItemOutcome:
    from kubernetes.client.rest import ApiException

    cluster = conn.cluster.name
    if item.failed:
        return ItemOutcome(cluster, item.target, "failed", item.error)
    if item.action == "delete":
        if not prune:
            return ItemOutcome(cluster, item.target, "skipped", "pruning is not enabled for this run")
        try:
            conn.call("delete", "DELETE", object_path(conn, item.kind, item.namespace, item.name))
        except ApiException as exc:
            if exc.status != 404:
                return ItemOutcome(cluster, item.target, "failed", describe_error(exc))
        return ItemOutcome(cluster, item.target, "ok", "deleted")
    body = {**item.body, "apiVersion": api_version(conn, item.kind)}
    try:
        _apply(conn, item.kind, item.namespace, item.name, body, dry_run=False)
    except ApiException as exc:
        message = conflict_message(exc) if exc.status == 409 else describe_error(exc)
        return ItemOutcome(cluster, item.target, "failed", message)
    return ItemOutcome(cluster, item.target, "ok", f"{item.action}d")


def verify(*, user: Any = None, scope: str = "all") -> list[ClusterPlan]:
    """A fresh plan after apply: empty (no items, no errors) when the clusters carry what the CMDB wants."""
    return plan(user=user, scope=scope)


def record_status(plans: list[ClusterPlan]) -> int:
    """Upsert every planned namespace's :class:`NamespaceStatus` from ``plans`` (one query per cluster and one
    bulk upsert), and each cluster's ``served_version`` as discovered; returns the status rows written.
    Called with a verify's plan, so the status is what is left.  Planning itself writes nothing, so a
    dry run leaves the CMDB as it was."""
    from django.utils import timezone

    now = timezone.now()
    rows = []
    for cluster_plan in plans:
        if cluster_plan.served_version:
            Cluster.objects.filter(pk=cluster_plan.cluster_id).exclude(
                served_version=cluster_plan.served_version).update(served_version=cluster_plan.served_version)
        ids = dict(Namespace.objects.filter(cluster_id=cluster_plan.cluster_id, name__in=cluster_plan.namespaces)
                   .values_list("name", "pk"))
        drift: Counter[str] = Counter()
        conflicts: Counter[str] = Counter()
        for item in cluster_plan.items:
            home = item.name if item.kind == "Namespace" else item.namespace
            (conflicts if item.failed else drift)[home] += 1
        for name, pk in ids.items():
            status = cluster_plan.quota_status.get(name) or {}
            rows.append(NamespaceStatus(namespace_id=pk, last_sync=now, drift_items=drift[name],
                                        conflicts=conflicts[name], error=cluster_plan.error,
                                        quota_hard=status.get("hard") or {}, quota_used=status.get("used") or {}))
    NamespaceStatus.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["namespace"],
        update_fields=["last_sync", "drift_items", "conflicts", "error", "quota_hard", "quota_used"])
    return len(rows)
