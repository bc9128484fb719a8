"""Impact analysis: what fails, or degrades, when some CIs fail; and what a service stands on.

``impact_of`` propagates a failure along the cached in-memory graph
(:mod:`cmdb.services.graph`) breadth first, so each affected CI keeps the
shortest dependency path that explains it.  States only ever rise
(ok < degraded < down) and a CI is re-queued only when its state rises, so
the walk ends on cycles and touches each edge at most twice.  A redundancy
group is down when fewer than ``min_up`` of its members are still up, and
degraded while any member is down or degraded.

Only the walk uses the cache; names, kinds and tenants of the affected CIs are
read fresh from the registry with one query, and everything the user may not
see (``cmdb.users.permissions``) is left out of the results and shown as
"hidden CI" where it explains a path.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection

from .graph import MEMBER_OF_GROUP, Graph, get_graph

OK, DEGRADED, DOWN = 0, 1, 2
STATE_NAMES = {DEGRADED: "degraded", DOWN: "down"}
MODES = {"down": DOWN, "degraded": DEGRADED}
HIDDEN = "hidden CI"
SERVICE_KIND = "services.service"


@dataclass
class ImpactResult:
    """What an impact question returns (also the shape of the API response)."""

    mode: str
    failed: list[dict[str, Any]]
    affected: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)
    tenants: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    hidden_count: int = 0
    relationship_types: dict[int, str] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        down = sum(1 for a in self.affected if a["state"] == "down")
        return {"affected": len(self.affected), "down": down, "degraded": len(self.affected) - down,
                "services": len(self.services), "hidden": self.hidden_count}

    def as_dict(self, limit: int | None = None) -> dict[str, Any]:
        affected = self.affected if not limit else self.affected[:limit]
        return {"mode": self.mode, "summary": self.summary(), "failed": self.failed, "affected": affected,
                "services": self.services, "tenants": self.tenants, "contacts": self.contacts,
                "relationship_types": {str(k): v for k, v in self.relationship_types.items()}}


# --- the walk (pure, on index space) -----------------------------------------------------


def propagate(graph: Graph, start: Iterable[int], start_state: int) -> tuple[dict[int, int], dict[int, tuple]]:
    """States and explaining parents (index, relationship type) of every CI reached from ``start``."""
    dep_ptr, dep_idx, dep_type = graph.dep_ptr, graph.dep_idx, graph.dep_type
    grp_ptr, grp_idx = graph.grp_ptr, graph.grp_idx
    group_min, group_size = graph.group_min, graph.group_size
    state: dict[int, int] = {}
    parent: dict[int, tuple[int, int] | None] = {}
    counted: dict[int, int] = {}  # member index -> the state already counted in its groups
    members_down: dict[int, int] = {}
    members_hit: dict[int, int] = {}
    queue: deque[int] = deque()
    for s in start:
        state[s] = start_state
        parent[s] = None
        queue.append(s)
    get = state.get
    while queue:
        u = queue.popleft()
        su = state[u]
        for k in range(dep_ptr[u], dep_ptr[u + 1]):
            v = dep_idx[k]
            if get(v, OK) < su:
                state[v] = su
                parent[v] = (u, dep_type[k])
                queue.append(v)
        lo, hi = grp_ptr[u], grp_ptr[u + 1]
        if lo == hi:
            continue
        before = counted.get(u, OK)
        if su <= before:
            continue
        counted[u] = su
        for k in range(lo, hi):
            g = grp_idx[k]
            if before == OK:
                members_hit[g] = members_hit.get(g, 0) + 1
            if su == DOWN:
                members_down[g] = members_down.get(g, 0) + 1
            up = group_size[g] - members_down.get(g, 0)
            new = DOWN if up < group_min[g] else DEGRADED
            if get(g, OK) < new:
                state[g] = new
                parent[g] = (u, MEMBER_OF_GROUP)
                queue.append(g)
    return state, parent


def walk_dependencies(graph: Graph, start: Iterable[int]) -> dict[int, tuple | None]:
    """Everything ``start`` stands on (breadth first, so parents give the shortest chain)."""
    sup_ptr, sup_idx, sup_type = graph.sup_ptr, graph.sup_idx, graph.sup_type
    parent: dict[int, tuple[int, int] | None] = {}
    queue: deque[int] = deque()
    for s in start:
        parent[s] = None
        queue.append(s)
    while queue:
        u = queue.popleft()
        for k in range(sup_ptr[u], sup_ptr[u + 1]):
            v = sup_idx[k]
            if v not in parent:
                parent[v] = (u, sup_type[k])
                queue.append(v)
    return parent


def _path(ids: Any, parent: dict[int, tuple | None], node: int) -> tuple[list[int], list[int]]:
    path, via = [ids[node]], []
    step = parent[node]
    while step is not None:
        prev, type_id = step
        path.append(ids[prev])
        via.append(type_id)
        step = parent[prev]
    path.reverse()
    via.reverse()
    return path, via


# --- registry look-ups and permissions ---------------------------------------------------


def registry_rows(ci_ids: list[int]) -> dict[int, tuple]:
    """id -> (kind, name, tenant_id, owner_id, criticality) with one query (chunked on SQLite)."""
    rows: dict[int, tuple] = {}
    if not ci_ids:
        return rows
    table = connection.ops.quote_name("core_configurationitem")
    cols = "id, kind, name, tenant_id, owner_id, criticality"
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"SELECT {cols} FROM {table} WHERE id = ANY(%s)", [list(ci_ids)])  # noqa: S608
            for row in cur.fetchall():
                rows[row[0]] = row[1:]
        else:
            for start in range(0, len(ci_ids), 5000):
                chunk = ci_ids[start : start + 5000]
                marks = ",".join(["%s"] * len(chunk))
                cur.execute(f"SELECT {cols} FROM {table} WHERE id IN ({marks})", chunk)  # noqa: S608
                for row in cur.fetchall():
                    rows[row[0]] = row[1:]
    return rows


class Visibility:
    """Which registry rows a user may see: the grant on the CI's kind, limited to its tenants."""

    def __init__(self, user: Any) -> None:
        from cmdb.users.permissions import ALL, grants_for

        self.all = ALL
        self.grants = grants_for(user) if user is not None else None
        self.by_kind: dict[str, tuple[bool, set[int] | None]] = {}

    def can_see(self, kind: str, tenant_id: int | None) -> bool:
        if self.grants is None:
            return True
        rule = self.by_kind.get(kind)
        if rule is None:
            rule = self.grants.lookup(kind, "view")
            if not rule[0]:
                rule = self.grants.lookup("core.configurationitem", "view")
            self.by_kind[kind] = rule
        granted, tenants = rule
        if not granted:
            return False
        return tenants is self.all or (tenant_id is not None and tenant_id in tenants)


def _brief(ci_id: int, row: tuple | None) -> dict[str, Any]:
    if row is None:
        return {"ci_id": ci_id, "kind": None, "name": "unknown CI"}
    return {"ci_id": ci_id, "kind": row[0], "name": row[1]}


class UnknownCI(ValueError):
    """A requested CI does not exist or the user may not see it."""

    def __init__(self, ci_ids: list[int]) -> None:
        super().__init__(f"Unknown CI: {', '.join(map(str, ci_ids))}")
        self.ci_ids = ci_ids


def _check_start(ci_ids: list[int], vis: Visibility) -> dict[int, tuple]:
    rows = registry_rows(ci_ids)
    missing = [c for c in ci_ids if c not in rows or not vis.can_see(rows[c][0], rows[c][2])]
    if missing:
        raise UnknownCI(missing)
    return rows


def _type_names(type_ids: set[int]) -> dict[int, str]:
    from .models import RelationshipType

    names = dict(RelationshipType.objects.filter(pk__in=type_ids).values_list("pk", "slug"))
    if MEMBER_OF_GROUP in type_ids:
        names[MEMBER_OF_GROUP] = "member of redundancy group"
    return names


# --- the public API ----------------------------------------------------------------------


def impact_of(ci_ids: list[int], *, mode: str = "down", user: Any = None) -> ImpactResult:
    """Every CI and service affected when ``ci_ids`` fail (``mode`` down or degraded).

    ``user`` limits what is reported to what they may see; ``None`` means no limit
    (internal callers such as metrics or other services).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    ci_ids = list(dict.fromkeys(int(c) for c in ci_ids))
    vis = Visibility(user)
    start_rows = _check_start(ci_ids, vis)
    graph = get_graph()
    start = [graph.index[c] for c in ci_ids if c in graph.index]
    state, parent = propagate(graph, start, MODES[mode])
    start_set = set(start)
    reached = [i for i in state if i not in start_set]
    ids = graph.ids
    rows = registry_rows([ids[i] for i in reached])
    result = ImpactResult(mode=mode, failed=[_brief(c, start_rows[c]) for c in ci_ids])
    type_ids: set[int] = set()
    visible_cache: dict[int, bool] = {c: True for c in ci_ids}

    def visible(ci: int) -> bool:
        seen = visible_cache.get(ci)
        if seen is None:
            row = rows.get(ci)
            seen = visible_cache[ci] = row is not None and vis.can_see(row[0], row[2])
        return seen

    tenant_ids: set[int] = set()
    owner_ids: set[int] = set()
    for i in reached:
        ci = ids[i]
        if not visible(ci):
            result.hidden_count += 1
            continue
        kind, name, tenant_id, owner_id, criticality = rows[ci]
        path, via = _path(ids, parent, i)
        type_ids.update(via)
        result.affected.append({
            "ci_id": ci, "kind": kind, "name": name, "state": STATE_NAMES[state[i]],
            "criticality": criticality, "tenant_id": tenant_id,
            "path": [p if visible(p) else None for p in path], "via": via,
        })
        if tenant_id:
            tenant_ids.add(tenant_id)
        if owner_id:
            owner_ids.add(owner_id)
    names = {c: (rows.get(c) or start_rows.get(c) or (None, None))[1] for c in visible_cache if visible_cache[c]}
    for a in result.affected:
        a["path_names"] = [names.get(p, HIDDEN) if p is not None else HIDDEN for p in a["path"]]
    result.affected.sort(key=lambda a: (a["state"] != "down", len(a["path"]), a["name"] or ""))
    result.relationship_types = _type_names(type_ids)
    _add_services(result)
    _add_notify(result, tenant_ids, owner_ids)
    return result


def _add_services(result: ImpactResult) -> None:
    from .models import Service

    by_ci = {a["ci_id"]: a for a in result.affected if a["kind"] == SERVICE_KIND}
    if not by_ci:
        return
    for svc in Service.objects.filter(ci_id__in=by_ci).values(
        "id", "ci_id", "name", "slug", "service_type", "sla_availability", "support_hours", "criticality"
    ):
        hit = by_ci[svc["ci_id"]]
        sla: Decimal | None = svc["sla_availability"]
        budget = None if sla is None else round(float((100 - sla) / 100) * 30 * 24 * 60, 1)
        result.services.append({
            "id": svc["id"], "ci_id": svc["ci_id"], "name": svc["name"], "slug": svc["slug"],
            "service_type": svc["service_type"], "criticality": svc["criticality"], "state": hit["state"],
            "sla_availability": float(sla) if sla is not None else None, "support_hours": svc["support_hours"],
            "downtime_budget_minutes_per_month": budget, "path": hit["path"], "path_names": hit["path_names"],
        })
    result.services.sort(key=lambda s: (s["state"] != "down", s["name"]))


def _add_notify(result: ImpactResult, tenant_ids: set[int], owner_ids: set[int]) -> None:
    from django.contrib.contenttypes.models import ContentType

    from cmdb.tenancy.models import Contact, ContactAssignment, Tenant

    if tenant_ids:
        result.tenants = [{"id": t["id"], "name": t["name"], "slug": t["slug"]}
                          for t in Tenant.objects.filter(pk__in=tenant_ids).values("id", "name", "slug")]
    assigned = ContactAssignment.objects.filter(
        object_type=ContentType.objects.get_for_model(Tenant), object_id__in=tenant_ids
    ).values_list("contact_id", "role__name", "object_id") if tenant_ids else []
    roles: dict[int, set[str]] = {}
    for contact_id, role, _tenant in assigned:
        roles.setdefault(contact_id, set()).add(role)
    for owner in owner_ids:
        roles.setdefault(owner, set()).add("owner of an affected CI")
    if roles:
        result.contacts = [
            {"id": c["id"], "name": c["name"], "email": c["email"], "phone": c["phone"],
             "tenant_id": c["tenant_id"], "roles": sorted(roles[c["id"]])}
            for c in Contact.objects.filter(pk__in=roles).values("id", "name", "email", "phone", "tenant_id")
        ]
        result.contacts.sort(key=lambda c: c["name"])


def dependencies_of(ci_ids: list[int], *, user: Any = None) -> dict[str, Any]:
    """The full stack under ``ci_ids`` (services, VMs, clusters, hosts, racks, ...) with paths."""
    ci_ids = list(dict.fromkeys(int(c) for c in ci_ids))
    vis = Visibility(user)
    start_rows = _check_start(ci_ids, vis)
    graph = get_graph()
    start = [graph.index[c] for c in ci_ids if c in graph.index]
    parent = walk_dependencies(graph, start)
    start_set = set(start)
    ids = graph.ids
    reached = [i for i in parent if i not in start_set]
    rows = registry_rows([ids[i] for i in reached])
    seen = {c: True for c in ci_ids}
    for c, row in rows.items():
        seen[c] = vis.can_see(row[0], row[2])
    names = {**{c: r[1] for c, r in rows.items()}, **{c: r[1] for c, r in start_rows.items()}}
    items, hidden, type_ids = [], 0, set()
    for i in reached:
        ci = ids[i]
        if not seen.get(ci):
            hidden += 1
            continue
        kind, name, tenant_id, _owner, criticality = rows[ci]
        path, via = _path(ids, parent, i)
        type_ids.update(via)
        items.append({"ci_id": ci, "kind": kind, "name": name, "criticality": criticality, "tenant_id": tenant_id,
                      "depth": len(path) - 1, "path": [p if seen.get(p) else None for p in path],
                      "path_names": [names[p] if seen.get(p) else HIDDEN for p in path], "via": via})
    items.sort(key=lambda x: (x["depth"], x["kind"], x["name"]))
    return {"roots": [_brief(c, start_rows[c]) for c in ci_ids], "dependencies": items, "hidden_count": hidden,
            "relationship_types": {str(k): v for k, v in _type_names(type_ids).items()}}
