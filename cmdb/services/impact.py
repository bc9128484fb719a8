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
from decimal import Decimal
from typing import Any

from django.db import connection

from .graph import Graph, get_graph

OK, DEGRADED, DOWN = 0, 1, 2
STATE_NAMES = {DEGRADED: "degraded", DOWN: "down"}
MODES = {"down": DOWN, "degraded": DEGRADED}
HIDDEN = "hidden CI"
SERVICE_KIND = "services.service"


# --- the walk (pure, on index space) -----------------------------------------------------


def propagate(graph: Graph, start: Iterable[int], start_state: int) -> tuple[dict[int, int], dict[int, int | None]]:
    """States and explaining parent of every CI reached from ``start`` (index space)."""
    dependents, groups_of = graph.dependents, graph.groups_of
    group_min, group_size = graph.group_min, graph.group_size
    state: dict[int, int] = {}
    parent: dict[int, int | None] = {}
    counted: dict[int, int] = {}  # member index -> the state already counted in its groups
    members_down: dict[int, int] = {}
    queue: deque[int] = deque()
    for s in start:
        state[s] = start_state
        parent[s] = None
        queue.append(s)
    get, push, pop = state.get, queue.append, queue.popleft
    while queue:
        u = pop()
        su = state[u]
        for v in dependents[u]:
            if get(v, OK) < su:
                state[v] = su
                parent[v] = u
                push(v)
        groups = groups_of[u]
        if not groups:
            continue
        before = counted.get(u, OK)
        if su <= before:
            continue
        counted[u] = su
        for g in groups:
            if su == DOWN:
                members_down[g] = members_down.get(g, 0) + 1
            new = DOWN if group_size[g] - members_down.get(g, 0) < group_min[g] else DEGRADED
            if get(g, OK) < new:
                state[g] = new
                parent[g] = u
                push(g)
    return state, parent


def walk_dependencies(graph: Graph, start: Iterable[int]) -> dict[int, int | None]:
    """Everything ``start`` stands on (breadth first, so parents give the shortest chain)."""
    supports = graph.supports
    parent: dict[int, int | None] = {}
    queue: deque[int] = deque()
    for s in start:
        parent[s] = None
        queue.append(s)
    while queue:
        u = queue.popleft()
        for v in supports[u]:
            if v not in parent:
                parent[v] = u
                queue.append(v)
    return parent


def _path(graph: Graph, parent: dict[int, int | None], node: int) -> tuple[list[int], list[str]]:
    """CI ids from the root to ``node`` and the relationship type of each hop (stack direction)."""
    chain = [node]
    step = parent[node]
    while step is not None:
        chain.append(step)
        step = parent[step]
    chain.reverse()
    via = [graph.type_slugs.get(graph.edge_type(chain[k + 1], chain[k]), "?") for k in range(len(chain) - 1)]
    return [graph.ids[i] for i in chain], via


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
        #: True when every CI is visible, so no registry rows are needed to filter.
        self.unrestricted = self.grants is None or any(
            self.grants.lookup(label, "view") == (True, ALL) for label in ("*", "core.configurationitem")
        )

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


# --- the public API ----------------------------------------------------------------------


class ImpactResult:
    """The answer to "what if these CIs fail?", computed once and rendered lazily.

    The walk (states and explaining parents for every reached CI) is done up front;
    names, paths and the notify lists are read from the registry only when asked for,
    and only for the rows asked for: a core switch reaches most of the data center, and
    a change manager reads the summary, the services and the first page.
    """

    def __init__(self, *, mode: str, failed: list[dict[str, Any]], graph: Graph, state: dict[int, int],
                 parent: dict[int, int | None], start: set[int], vis: Visibility) -> None:
        self.mode, self.failed, self.graph, self.vis = mode, failed, graph, vis
        self.state, self.parent = state, parent
        reached = [i for i in state if i not in start]  # breadth-first order: nearest first
        self.order = [i for i in reached if state[i] == DOWN] + [i for i in reached if state[i] != DOWN]
        self._rows: dict[int, tuple] = {}
        self._visible: list[int] | None = None
        self._affected: list[dict[str, Any]] | None = None
        self._services: list[dict[str, Any]] | None = None
        self._notify: tuple[list, list] | None = None
        self.start_ids = [f["ci_id"] for f in failed]

    # visibility ------------------------------------------------------------------------

    def _load_rows(self, idxs: Iterable[int]) -> None:
        ids = self.graph.ids
        missing = [ids[i] for i in idxs if ids[i] not in self._rows]
        if missing:
            self._rows.update(registry_rows(missing))

    def visible_order(self) -> list[int]:
        """The reached indexes the user may see (a registry query only for restricted users)."""
        if self._visible is None:
            if self.vis.unrestricted:
                self._visible = self.order
            else:
                self._load_rows(self.order)
                ids, rows = self.graph.ids, self._rows
                self._visible = [i for i in self.order
                                 if ids[i] in rows and self.vis.can_see(rows[ids[i]][0], rows[ids[i]][2])]
        return self._visible

    @property
    def hidden_count(self) -> int:
        return len(self.order) - len(self.visible_order())

    def summary(self) -> dict[str, int]:
        visible = self.visible_order()
        down = sum(1 for i in visible if self.state[i] == DOWN)
        return {"affected": len(visible), "down": down, "degraded": len(visible) - down,
                "services": len(self.services), "hidden": self.hidden_count}

    # rendering -------------------------------------------------------------------------

    def _chain(self, node: int) -> list[int]:
        chain = [node]
        step = self.parent[node]
        while step is not None:
            chain.append(step)
            step = self.parent[step]
        chain.reverse()
        return chain

    def _render(self, idxs: list[int]) -> list[dict[str, Any]]:
        chains = {i: self._chain(i) for i in idxs}
        self._load_rows({j for chain in chains.values() for j in chain})
        ids, rows, graph = self.graph.ids, self._rows, self.graph
        start = set(self.start_ids)

        def seen(ci: int) -> bool:
            if ci in start:
                return True
            row = rows.get(ci)
            return row is not None and self.vis.can_see(row[0], row[2])

        slugs: dict[tuple[int, int], str] = {}

        def via(u: int, v: int) -> str:
            slug = slugs.get((u, v))
            if slug is None:
                slug = slugs[(u, v)] = graph.type_slugs.get(graph.edge_type(u, v), "?")
            return slug

        out = []
        for i in idxs:
            ci = ids[i]
            row = rows.get(ci)
            if row is None:  # deleted since the graph was loaded
                continue
            kind, name, tenant_id, _owner, criticality = row
            chain = chains[i]
            path = [ids[j] if seen(ids[j]) else None for j in chain]
            out.append({
                "ci_id": ci, "kind": kind, "name": name, "state": STATE_NAMES[self.state[i]],
                "criticality": criticality, "tenant_id": tenant_id, "path": path,
                "path_names": [rows[p][1] if p is not None and p in rows else HIDDEN if p is None else
                               self._start_name(p) for p in path],
                "via": [via(chain[k], chain[k + 1]) for k in range(len(chain) - 1)],
            })
        return out

    def _start_name(self, ci: int) -> str:
        return next((f["name"] for f in self.failed if f["ci_id"] == ci), HIDDEN)

    def page(self, limit: int | None = None) -> list[dict[str, Any]]:
        visible = self.visible_order()
        return self._render(visible if not limit else visible[:limit])

    @property
    def affected(self) -> list[dict[str, Any]]:
        if self._affected is None:
            self._affected = self._render(self.visible_order())
        return self._affected

    @property
    def services(self) -> list[dict[str, Any]]:
        if self._services is None:
            start = set(self._start_idx())
            services = self.graph.services
            hit = [i for i in services if i in self.state and i not in start] if len(services) < len(self.state) \
                else [i for i in self.state if i in services and i not in start]
            hit.sort(key=self.order_position)
            allowed = set(self.visible_order()) if hit and not self.vis.unrestricted else None
            hit = [i for i in hit if allowed is None or i in allowed]
            self._services = _services(self._render(hit)) if hit else []
        return self._services

    def order_position(self, i: int) -> int:
        return 0 if self.state[i] == DOWN else 1

    def _start_idx(self) -> list[int]:
        index = self.graph.index
        return [index[c] for c in self.start_ids if c in index]

    def _notify_lists(self) -> tuple[list, list]:
        if self._notify is None:
            ids = self.graph.ids
            self._notify = _notify([ids[i] for i in self.visible_order()])
        return self._notify

    @property
    def tenants(self) -> list[dict[str, Any]]:
        return self._notify_lists()[0]

    @property
    def contacts(self) -> list[dict[str, Any]]:
        return self._notify_lists()[1]

    def as_dict(self, limit: int | None = None) -> dict[str, Any]:
        return {"mode": self.mode, "summary": self.summary(), "failed": self.failed,
                "affected": self.page(limit), "services": self.services, "tenants": self.tenants,
                "contacts": self.contacts}


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
    return ImpactResult(mode=mode, failed=[_brief(c, start_rows[c]) for c in ci_ids], graph=graph, state=state,
                        parent=parent, start=set(start), vis=vis)


def _services(hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from .models import Service

    by_ci = {a["ci_id"]: a for a in hits}
    out = []
    for svc in Service.objects.filter(ci_id__in=by_ci).values(
        "id", "ci_id", "name", "slug", "service_type", "sla_availability", "support_hours", "criticality"
    ):
        hit = by_ci[svc["ci_id"]]
        sla: Decimal | None = svc["sla_availability"]
        budget = None if sla is None else round(float((100 - sla) / 100) * 30 * 24 * 60, 1)
        out.append({
            "id": svc["id"], "ci_id": svc["ci_id"], "name": svc["name"], "slug": svc["slug"],
            "service_type": svc["service_type"], "criticality": svc["criticality"], "state": hit["state"],
            "sla_availability": float(sla) if sla is not None else None, "support_hours": svc["support_hours"],
            "downtime_budget_minutes_per_month": budget, "path": hit["path"], "path_names": hit["path_names"],
            "via": hit["via"],
        })
    out.sort(key=lambda s: (s["state"] != "down", s["name"]))
    return out


def _notify(ci_ids: list[int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Tenants of the affected CIs, their assigned contacts and the CIs' owners (three small queries)."""
    from django.contrib.contenttypes.models import ContentType

    from cmdb.tenancy.models import Contact, ContactAssignment, Tenant

    if not ci_ids:
        return [], []
    tenant_ids, owner_ids = registry_tenants_owners(ci_ids)
    tenants = [{"id": t["id"], "name": t["name"], "slug": t["slug"]}
               for t in Tenant.objects.filter(pk__in=tenant_ids).values("id", "name", "slug").order_by("name")]
    roles: dict[int, set[str]] = {}
    if tenant_ids:
        for contact_id, role in ContactAssignment.objects.filter(
            object_type=ContentType.objects.get_for_model(Tenant), object_id__in=tenant_ids
        ).values_list("contact_id", "role__name"):
            roles.setdefault(contact_id, set()).add(role)
    for owner in owner_ids:
        roles.setdefault(owner, set()).add("owner of an affected CI")
    contacts = [
        {"id": c["id"], "name": c["name"], "email": c["email"], "phone": c["phone"], "tenant_id": c["tenant_id"],
         "roles": sorted(roles[c["id"]])}
        for c in Contact.objects.filter(pk__in=roles).values("id", "name", "email", "phone", "tenant_id")
    ] if roles else []
    contacts.sort(key=lambda c: c["name"])
    return tenants, contacts


def registry_tenants_owners(ci_ids: list[int]) -> tuple[set[int], set[int]]:
    """Distinct tenants and owners of many CIs, aggregated in the database."""
    table = connection.ops.quote_name("core_configurationitem")
    tenants: set[int] = set()
    owners: set[int] = set()
    with connection.cursor() as cur:
        chunks = [ci_ids] if connection.vendor == "postgresql" else [
            ci_ids[i:i + 5000] for i in range(0, len(ci_ids), 5000)]
        for chunk in chunks:
            if connection.vendor == "postgresql":
                cur.execute(f"SELECT DISTINCT tenant_id, owner_id FROM {table} WHERE id = ANY(%s) "  # noqa: S608
                            "AND (tenant_id IS NOT NULL OR owner_id IS NOT NULL)", [chunk])
            else:
                marks = ",".join(["%s"] * len(chunk))
                cur.execute(f"SELECT DISTINCT tenant_id, owner_id FROM {table} WHERE id IN ({marks}) "  # noqa: S608
                            "AND (tenant_id IS NOT NULL OR owner_id IS NOT NULL)", chunk)
            for tenant_id, owner_id in cur.fetchall():
                if tenant_id:
                    tenants.add(tenant_id)
                if owner_id:
                    owners.add(owner_id)
    return tenants, owners


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
    items, hidden = [], 0
    for i in reached:
        ci = ids[i]
        if not seen.get(ci):
            hidden += 1
            continue
        kind, name, tenant_id, _owner, criticality = rows[ci]
        path, via = _path(graph, parent, i)
        items.append({"ci_id": ci, "kind": kind, "name": name, "criticality": criticality, "tenant_id": tenant_id,
                      "depth": len(path) - 1, "path": [p if seen.get(p) else None for p in path],
                      "path_names": [names[p] if seen.get(p) else HIDDEN for p in path], "via": via})
    items.sort(key=lambda x: (x["depth"], x["kind"], x["name"]))
    return {"roots": [_brief(c, start_rows[c]) for c in ci_ids], "dependencies": items, "hidden_count": hidden}
