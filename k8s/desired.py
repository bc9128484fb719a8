"""What the CMDB wants on its clusters: the Kubernetes objects of every managed namespace.

Everything here is derived from CMDB rows, never from the cluster, so the same rows always give
the same objects (and a plan against an unchanged cluster is empty).  Per managed namespace:

- the ``Namespace`` itself, labelled with its CI id, service, tenant, criticality, owner,
  ``cmdb/namespace`` (what network policies select on: v1.20 has no automatic name label) and
  ``app.kubernetes.io/managed-by`` (the cluster's field manager, what observation lists by);
- a ``ResourceQuota`` ``cmdb-quota`` when any quota field is set, a ``LimitRange``
  ``cmdb-limits`` when any default is set;
- one ``RoleBinding`` per ClusterRole (``cmdb-admin``, ``cmdb-edit``, ``cmdb-view``) whose
  subjects are the contacts of the namespace's service (and of the namespace itself) with a
  Kubernetes subject; the contact role picks the ClusterRole through :class:`RoleMapping`,
  the CI ``owner`` counts as role ``owner``.  A binding per role (not per person) keeps the
  roleRef, which Kubernetes never lets change, fixed for the object's life;
- ``NetworkPolicy`` ``cmdb-default-deny`` (all ingress denied) and ``cmdb-allow-dependents``:
  ingress from pods of the same namespace and from the namespaces (on the same cluster) of every
  service that ``depends_on`` this namespace's service.  The allow policy is always there, with
  an empty ingress list when nothing depends on the service, so adding a dependency changes one
  object instead of creating one.

All reads are a fixed number of queries for any number of namespaces (no per-row queries).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet
from django.utils.text import slugify

from cmdb.services.models import Relationship, Service
from cmdb.tenancy.models import ContactAssignment

from .models import K8sSubject, Namespace, RoleMapping

MANAGED_BY = "app.kubernetes.io/managed-by"
PREFIX = "cmdb/"
CI_LABEL = f"{PREFIX}ci-id"
NAMESPACE_LABEL = f"{PREFIX}namespace"
QUOTA_NAME = "cmdb-quota"
LIMITS_NAME = "cmdb-limits"
DENY_NAME = "cmdb-default-deny"
ALLOW_NAME = "cmdb-allow-dependents"
RBAC = "rbac.authorization.k8s.io"
DEPENDS_ON = "depends_on"
#: The role a CI's ``owner`` contact has.
OWNER_ROLE = "owner"
#: The RoleMapping row for every role without a row of its own.
OTHER_ROLES = "*"


@dataclass(frozen=True)
class DesiredObject:
    """One object as we would apply it: ``body`` is the complete apply configuration (our fields only).

    ``kind`` and ``api_group`` name the type independently of its served version, which the
    reconciler fills in from the server's discovery (``body`` carries no ``apiVersion``).
    """

    cluster_id: int
    ci_id: int | None
    api_group: str
    kind: str
    namespace: str | None
    name: str
    body: dict[str, Any] = field(hash=False, compare=False)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace or "", self.name)


def label_value(text: str) -> str:
    """``text`` as a valid label value (63 characters of alphanumerics, '-', '_', '.')."""
    return slugify(text)[:63].strip("-_.")


def managed_namespaces(*, user: Any = None, scope: str = "all", action: str = "view",
                       ci_ids: Iterable[int] | None = None) -> QuerySet[Namespace]:
    """The managed namespaces in ``scope`` that ``user`` may ``action`` (all of them without a user).

    Scopes: ``all``, ``cluster:<name>[,…]``, ``tenant:<slug>[,…]``, ``service:<slug>[,…]``,
    ``namespace:<name>[,…]``, ``ci:<id>[,…]``.  ``ci_ids`` (the reconcile framework's resolved
    selection) limits the answer to those namespace CIs; unmanaged ones among them are left out.
    """
    queryset = Namespace.objects.filter(managed=True)
    if ci_ids is not None:
        queryset = queryset.filter(ci_id__in=list(ci_ids))
    if scope not in ("", "all"):
        kind, _, value = scope.partition(":")
        values = [v for v in value.split(",") if v]
        lookups = {"cluster": "cluster__name__in", "tenant": "tenant__slug__in", "service": "service__slug__in",
                   "namespace": "name__in", "ci": "ci_id__in"}
        if kind not in lookups or not values:
            raise ValueError(f"Unknown scope {scope!r}; use all, cluster:, tenant:, service:, namespace: or ci:.")
        if kind == "ci":
            try:
                values = [int(v) for v in values]  # type: ignore[misc]
            except ValueError:
                raise ValueError(f"Scope {scope!r}: CI ids are numbers.") from None
        queryset = queryset.filter(**{lookups[kind]: values})
    if user is not None:
        from cmdb.users.permissions import restrict

        queryset = restrict(queryset, user, action)
    return with_relations(queryset).order_by("cluster", "name")


def with_relations(queryset: QuerySet[Namespace]) -> QuerySet[Namespace]:
    """``queryset`` loading what :func:`desired_objects` reads of each namespace.  The service is joined (one per
    namespace); cluster, tenant and owners are few rows shared by many namespaces, so they are fetched once each
    (one small query per relation) instead of being joined into every row: 500 namespaces of one cluster made
    500 copies of its CA certificate and 500 Cluster objects."""
    return queryset.select_related("service").prefetch_related("cluster", "tenant", "owner", "service__owner")


@dataclass
class _Context:
    """Everything the namespaces' objects need, read with a fixed number of queries."""

    mapping: dict[str, str]
    subjects: dict[int, tuple[str, str]]
    #: (content type id, object id) → [(contact id, role slug)]
    assignments: dict[tuple[int, int], list[tuple[int, str]]]
    #: service CI id → CI ids of the services that depend on it
    dependents: dict[int, set[int]]
    #: (cluster id, service CI id) → names of the managed namespaces of that service on that cluster
    namespaces_of_service: dict[tuple[int, int], list[str]]


def _context(namespaces: list[Namespace]) -> _Context:
    mapping = dict(RoleMapping.objects.values_list("contact_role", "cluster_role"))
    service_type = ContentType.objects.get_for_model(Service)
    namespace_type = ContentType.objects.get_for_model(Namespace)
    service_ids = {ns.service_id for ns in namespaces if ns.service_id}
    ns_ids = {ns.pk for ns in namespaces}
    assignments: dict[tuple[int, int], list[tuple[int, str]]] = defaultdict(list)
    rows = ContactAssignment.objects.filter(object_type=service_type, object_id__in=service_ids).values_list(
        "object_type_id", "object_id", "contact_id", "role__slug")
    rows2 = ContactAssignment.objects.filter(object_type=namespace_type, object_id__in=ns_ids).values_list(
        "object_type_id", "object_id", "contact_id", "role__slug")
    for type_id, object_id, contact_id, role in [*rows, *rows2]:
        assignments[(type_id, object_id)].append((contact_id, role))
    contact_ids = {c for pairs in assignments.values() for c, _ in pairs}
    contact_ids |= {ns.owner_id for ns in namespaces if ns.owner_id}
    contact_ids |= {ns.service.owner_id for ns in namespaces if ns.service_id and ns.service.owner_id}
    subjects = {contact: (kind, name) for contact, kind, name in
                K8sSubject.objects.filter(contact_id__in=contact_ids).values_list("contact_id", "kind", "name")}
    service_cis = {ns.service.ci_id for ns in namespaces if ns.service_id}
    dependents: dict[int, set[int]] = defaultdict(set)
    for source, target in Relationship.objects.filter(type__slug=DEPENDS_ON, target_id__in=service_cis).values_list(
            "source_id", "target_id"):
        dependents[target].add(source)
    sources = {s for group in dependents.values() for s in group}
    cluster_ids = {ns.cluster_id for ns in namespaces}
    namespaces_of_service: dict[tuple[int, int], list[str]] = defaultdict(list)
    for cluster_id, service_ci, name in Namespace.objects.filter(
            managed=True, cluster_id__in=cluster_ids, service__ci_id__in=sources).values_list(
            "cluster_id", "service__ci_id", "name").order_by("name"):
        namespaces_of_service[(cluster_id, service_ci)].append(name)
    return _Context(mapping, subjects, assignments, dependents, namespaces_of_service)


def _quota(ns: Namespace) -> dict[str, str]:
    hard = {
        "requests.cpu": ns.requests_cpu, "requests.memory": ns.requests_memory,
        "limits.cpu": ns.limits_cpu, "limits.memory": ns.limits_memory,
        "pods": "" if ns.pods is None else str(ns.pods),
        "persistentvolumeclaims": "" if ns.pvcs is None else str(ns.pvcs),
        "requests.storage": ns.storage,
    }
    for storage_class, quantity in sorted((ns.storage_classes or {}).items()):
        hard[f"{storage_class}.storageclass.storage.k8s.io/requests.storage"] = quantity
    return {key: value for key, value in hard.items() if value}


def _limits(ns: Namespace) -> dict[str, dict[str, str]]:
    default = {k: v for k, v in (("cpu", ns.default_cpu), ("memory", ns.default_memory)) if v}
    request = {k: v for k, v in (("cpu", ns.default_request_cpu), ("memory", ns.default_request_memory)) if v}
    return {k: v for k, v in (("default", default), ("defaultRequest", request)) if v}


def _bindings(ns: Namespace, ctx: _Context, service_type_id: int, namespace_type_id: int) -> dict[str, list[Any]]:
    """ClusterRole → sorted subjects."""
    roles: list[tuple[int, str]] = []
    if ns.service_id:
        roles += ctx.assignments.get((service_type_id, ns.service_id), [])
        if ns.service.owner_id:
            roles.append((ns.service.owner_id, OWNER_ROLE))
    roles += ctx.assignments.get((namespace_type_id, ns.pk), [])
    if ns.owner_id:
        roles.append((ns.owner_id, OWNER_ROLE))
    by_role: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for contact_id, role in roles:
        subject = ctx.subjects.get(contact_id)
        cluster_role = ctx.mapping.get(role, ctx.mapping.get(OTHER_ROLES))
        if subject and cluster_role:
            by_role[cluster_role].add(subject)
    return {role: [{"kind": kind, "name": name, "apiGroup": RBAC} for kind, name in sorted(subjects)]
            for role, subjects in sorted(by_role.items())}


def namespace_objects(ns: Namespace, ctx: _Context, service_type_id: int, namespace_type_id: int
                      ) -> list[DesiredObject]:
    """The objects of one managed namespace (see the module docstring)."""
    cluster = ns.cluster
    labels = {key: value for key, value in (ns.labels or {}).items()}
    labels.update({
        CI_LABEL: str(ns.ci_id),
        NAMESPACE_LABEL: ns.name,
        f"{PREFIX}criticality": ns.criticality,
        MANAGED_BY: cluster.field_manager,
    })
    if ns.service_id:
        labels[f"{PREFIX}service"] = label_value(ns.service.slug)
    if ns.tenant_id:
        labels[f"{PREFIX}tenant"] = label_value(ns.tenant.slug)
    owner = ns.owner if ns.owner_id else (ns.service.owner if ns.service_id and ns.service.owner_id else None)
    if owner is not None and label_value(owner.name):
        labels[f"{PREFIX}owner"] = label_value(owner.name)
    ours = {MANAGED_BY: cluster.field_manager, CI_LABEL: str(ns.ci_id)}

    def obj(group: str, kind: str, name: str, body: dict[str, Any], namespaced: bool = True) -> DesiredObject:
        meta: dict[str, Any] = {"name": name, "labels": dict(ours)}
        if namespaced:
            meta["namespace"] = ns.name
        return DesiredObject(cluster.pk, ns.ci_id, group, kind, ns.name if namespaced else None, name,
                             {"kind": kind, "metadata": meta, **body})

    namespace_meta: dict[str, Any] = {"name": ns.name, "labels": labels}
    if ns.annotations:
        namespace_meta["annotations"] = dict(ns.annotations)
    objects = [DesiredObject(cluster.pk, ns.ci_id, "", "Namespace", None, ns.name,
                             {"kind": "Namespace", "metadata": namespace_meta})]
    hard = _quota(ns)
    if hard:
        objects.append(obj("", "ResourceQuota", QUOTA_NAME, {"spec": {"hard": hard}}))
    limits = _limits(ns)
    if limits:
        objects.append(obj("", "LimitRange", LIMITS_NAME, {"spec": {"limits": [{"type": "Container", **limits}]}}))
    for role, subjects in _bindings(ns, ctx, service_type_id, namespace_type_id).items():
        objects.append(obj(RBAC, "RoleBinding", f"cmdb-{role}"[:253], {
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role}, "subjects": subjects}))
    objects.append(obj("networking.k8s.io", "NetworkPolicy", DENY_NAME,
                       {"spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}))
    peers = [ns.name]
    if ns.service_id:
        for source in sorted(ctx.dependents.get(ns.service.ci_id, ())):
            peers += ctx.namespaces_of_service.get((cluster.pk, source), [])
    sources = [{"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: peer}}} for peer in sorted(set(peers))]
    objects.append(obj("networking.k8s.io", "NetworkPolicy", ALLOW_NAME, {
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": sources}]}}))
    return objects


def desired_objects(namespaces: Iterable[Namespace]) -> dict[int, list[DesiredObject]]:
    """Cluster id → the desired objects of ``namespaces`` on it, in apply order (namespaces first)."""
    namespaces = list(namespaces)
    if not namespaces:
        return {}
    ctx = _context(namespaces)
    service_type_id = ContentType.objects.get_for_model(Service).pk
    namespace_type_id = ContentType.objects.get_for_model(Namespace).pk
    result: dict[int, list[DesiredObject]] = defaultdict(list)
    for ns in namespaces:
        result[ns.cluster_id].extend(namespace_objects(ns, ctx, service_type_id, namespace_type_id))
    return dict(result)
