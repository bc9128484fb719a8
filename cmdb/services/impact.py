"""Impact analysis: what fails, or degrades, when some CIs fail; and what a service stands on.

``impact_of`` propagates a failure along the cached in-memory graph
(:mod:`cmdb.services.graph`) breadth first, one hop at a time with vectorised
numpy operations over the CSR arrays (a frontier is expanded with
``np.repeat`` over the row pointers, a state array is the visited mask), so
even a core switch that reaches the whole data center costs a few dozen numpy
calls per hop rather than a Python loop over every edge.

States are the least fixpoint of monotone rules (ok < degraded < down), which
is computed in two passes: first everything that is *down* (a dependent of a
down CI is down; a redundancy group is down once more than ``size - min_up``
of its members are down), then everything else reachable, which is
*degraded*.  Cycles end the walk because a CI is only visited once per pass.
Each reached CI keeps one explaining parent (a CI on the hop before it), and
dependency paths are built from the parent array only for the rows a caller
actually renders.

Only the walk uses the cache; names, kinds and tenants of the affected CIs are
read fresh from the registry with one query, and everything the user may not
see (``cmdb.users.permissions``) is left out of the results and shown as
"hidden CI" where it explains a path.
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connection

from .graph import MEMBER_OF_GROUP, Graph, get_graph

OK, DEGRADED, DOWN = 0, 1, 2
STATE_NAMES = {DEGRADED: "degraded", DOWN: "down"}
MODES = {"down": DOWN, "degraded": DEGRADED}
HIDDEN = "hidden CI"
SERVICE_KIND = "services.service"
#: The boolean custom field of a cluster that restarts the VMs of a failed host on its other hosts
#: (vSphere HA, Proxmox HA).  Placement hops are explained with the relationship type ``runs_on``.
HA_FIELD = "ha_restart"
PLACED_VIA = "runs_on"
NO_PARENT = -1
_EMPTY = np.zeros(0, dtype=np.int64)


# --- the walk (pure, on index space) -----------------------------------------------------


def expand(ptr: np.ndarray, idx: np.ndarray, frontier: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All CSR neighbours of ``frontier`` and, aligned with them, the frontier node each came from."""
    if frontier.size == 1:  # chains of single CIs are common in small walks: skip the bookkeeping
        u = int(frontier[0])
        row = idx[ptr[u]:ptr[u + 1]]
        return row, np.full(row.size, u, dtype=np.int64)
    starts = ptr[frontier]
    counts = ptr[frontier + 1] - starts
    total = int(counts.sum())
    if not total:
        return _EMPTY, _EMPTY
    # Position k of the output reads idx[starts[j] + (k - first output position of row j)].
    shift = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return idx[np.arange(total) + shift], np.repeat(frontier, counts)


class _Settler:
    """Marks newly reached CIs: one state, one parent each, duplicates dropped without sorting.

    A hop often reaches the same CI from many sources (a rack's hosts all lead to one cluster);
    ``np.unique`` would sort every frontier.  Instead each candidate writes its position into a
    scratch array and the candidate whose write survived is the one kept: linear time.
    """

    def __init__(self, state: np.ndarray, parent: np.ndarray) -> None:
        self.state, self.parent = state, parent
        self.slot = np.empty(len(state), dtype=np.int64)

    def __call__(self, nodes: np.ndarray, sources: np.ndarray, new_state: int) -> np.ndarray:
        """Give the not yet reached ``nodes`` ``new_state`` and a parent; returns them once each."""
        fresh = self.state[nodes] == OK
        nodes, sources = nodes[fresh], sources[fresh]
        if not nodes.size:
            return _EMPTY
        positions = np.arange(nodes.size)
        self.slot[nodes] = positions
        keep = self.slot[nodes] == positions
        nodes, sources = nodes[keep], sources[keep]
        self.state[nodes] = new_state
        self.parent[nodes] = sources
        return nodes


SMALL_WALK = 256  # reached CIs up to which a plain Python walk beats numpy's per-call overhead


def _propagate_small(graph: Graph, start: list[int], start_state: int,
                     budget: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The same walk as :func:`propagate` with a queue in Python; ``None`` once more than ``budget`` CIs are reached.

    Most CIs reach a few dozen others; for them a dozen vectorised hops cost more in call
    overhead than the walk itself.  States only rise and a CI is re-queued only when its
    state rises, so this reaches the same least fixpoint as the two-pass walk.
    """
    dep_ptr, dep_idx, grp_ptr, grp_idx = graph.mv_dep_ptr, graph.mv_dep_idx, graph.mv_grp_ptr, graph.mv_grp_idx
    threshold = graph.mv_threshold
    state: dict[int, int] = {}
    parent: dict[int, int] = {}
    counted: dict[int, int] = {}  # member -> the state already counted in its groups
    members_down: dict[int, int] = {}
    queue = deque()
    for s in start:
        state[s] = start_state
        queue.append(s)
    while queue:
        u = queue.popleft()
        su = state[u]
        for v in dep_idx[dep_ptr[u]:dep_ptr[u + 1]].tolist():
            if state.get(v, OK) < su:
                state[v] = su
                parent[v] = u
                queue.append(v)
        if len(state) > budget:
            return None
        lo, hi = grp_ptr[u], grp_ptr[u + 1]
        if lo == hi or su <= counted.get(u, OK):
            continue
        counted[u] = su
        for g in grp_idx[lo:hi].tolist():
            if su == DOWN:
                members_down[g] = members_down.get(g, 0) + 1
            new = DOWN if members_down.get(g, 0) >= threshold[g] else DEGRADED
            if state.get(g, OK) < new:
                state[g] = new
                parent[g] = u
                queue.append(g)
    starts = set(start)
    reached = [i for i in state if i not in starts]
    order = [i for i in reached if state[i] == DOWN] + [i for i in reached if state[i] != DOWN]
    state_arr = np.zeros(graph.size, dtype=np.int8)
    parent_arr = np.full(graph.size, NO_PARENT, dtype=np.int32)
    if state:
        state_arr[list(state)] = list(state.values())
    if parent:
        parent_arr[list(parent)] = list(parent.values())
    return state_arr, parent_arr, np.array(order, dtype=np.int64)


def propagate(graph: Graph, start: Iterable[int], start_state: int, *,
              small_first: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """State and explaining parent of every index, and the reached indexes nearest first (``start`` excluded).

    ``state`` is OK for the CIs not reached; ``parent`` is NO_PARENT for those and for ``start``.
    The order lists the down CIs (hop by hop) before the degraded ones.  Small walks are done
    by :func:`_propagate_small` (``small_first=False`` forces the vectorised walk: tests compare both).
    """
    start = list(start)
    if small_first:
        small = _propagate_small(graph, start, start_state, SMALL_WALK)
        if small is not None:
            return small
    n = graph.size
    state = np.zeros(n, dtype=np.int8)
    parent = np.full(n, NO_PARENT, dtype=np.int32)
    frontier = np.unique(np.asarray(list(start), dtype=np.int64))
    if not frontier.size:
        return state, parent, _EMPTY
    state[frontier] = start_state
    settle = _Settler(state, parent)
    levels: list[np.ndarray] = []
    if start_state == DOWN:
        # Pass 1: the down closure.  Each CI enters the frontier once, so its groups count it once.
        down_members = np.zeros(n, dtype=np.int32)
        threshold = graph.down_threshold
        down = [frontier]
        while frontier.size:
            nodes, sources = expand(graph.dep_ptr, graph.dep_idx, frontier)
            if graph.in_group[frontier].any():
                groups, members = expand(graph.grp_ptr, graph.grp_idx, frontier)
                np.add.at(down_members, groups, 1)
                tipped = down_members[groups] >= threshold[groups]
                nodes = np.concatenate([nodes, groups[tipped]])
                sources = np.concatenate([sources, members[tipped]])
            frontier = settle(nodes, sources, DOWN)
            if frontier.size:
                levels.append(frontier)
                down.append(frontier)
        # Pass 2 starts where down stops: only memberships lead from a down CI to one that is not down.
        every_down = np.concatenate(down)
        groups, members = expand(graph.grp_ptr, graph.grp_idx, every_down)
        frontier = settle(groups, members, DEGRADED)
        if frontier.size:
            levels.append(frontier)
    # Pass 2: everything still reachable, over dependents and memberships alike, is degraded.
    while frontier.size:
        nodes, sources = expand(graph.any_ptr, graph.any_idx, frontier)
        frontier = settle(nodes, sources, DEGRADED)
        if frontier.size:
            levels.append(frontier)
    return state, parent, np.concatenate(levels) if levels else _EMPTY


def walk_dependencies(graph: Graph, start: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
    """Everything ``start`` stands on, breadth first (so parents give the shortest chain): (parent, order)."""
    seen = np.zeros(graph.size, dtype=np.int8)
    parent = np.full(graph.size, NO_PARENT, dtype=np.int32)
    frontier = np.unique(np.asarray(list(start), dtype=np.int64))
    seen[frontier] = 1
    settle = _Settler(seen, parent)
    levels = []
    while frontier.size:
        nodes, sources = expand(graph.sup_ptr, graph.sup_idx, frontier)
        frontier = settle(nodes, sources, 1)
        if frontier.size:
            levels.append(frontier)
    return parent, np.concatenate(levels) if levels else _EMPTY


def chain_of(parent: np.ndarray, node: int) -> list[int]:
    """Indexes from the root of the walk to ``node``, following the parent array."""
    chain = [node]
    step = int(parent[node])
    while step != NO_PARENT:
        chain.append(step)
        step = int(parent[step])
    chain.reverse()
    return chain


def _path(graph: Graph, parent: np.ndarray, node: int) -> tuple[list[int], list[str]]:
    """CI ids from the root to ``node`` and the relationship type of each hop (stack direction)."""
    chain = chain_of(parent, node)
    via = [graph.type_slugs.get(graph.edge_type(chain[k + 1], chain[k]), "?") for k in range(len(chain) - 1)]
    return graph.ids[chain].tolist(), via


# --- registry look-ups and permissions ---------------------------------------------------


def id_array(ci_ids: Iterable[int]) -> str:
    """A PostgreSQL array literal of integer ids: one string parameter instead of a list that the
    driver quotes element by element (tens of thousands of ids for a core switch)."""
    return "{" + ",".join(str(int(c)) for c in ci_ids) + "}"


def registry_rows(ci_ids: list[int]) -> dict[int, tuple]:
    """id -> (kind, name, tenant_id, owner_id, criticality) with one query (chunked on SQLite)."""
    rows: dict[int, tuple] = {}
    if not ci_ids:
        return rows
    table = connection.ops.quote_name("core_configurationitem")
    cols = "id, kind, name, tenant_id, owner_id, criticality"
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"SELECT {cols} FROM {table} WHERE id = ANY(%s::bigint[])", [id_array(ci_ids)])  # noqa: S608
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


def failure_heading(names: list[str], mode: str) -> str:
    """``If core-zi-01 fails``, ``If a, b and c fail``, ``If a degrades``: the question, in English."""
    subject = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    one = len(names) == 1
    verb = ("fails" if one else "fail") if mode == "down" else ("degrades" if one else "degrade")
    return f"If {subject} {verb}"


def resolve_refs(refs: Iterable[str], user: Any = None) -> tuple[list[int], list[str]]:
    """CI ids from registry ids or names, and a message per reference that names no single CI.

    Why names: people ask "what if core-zi-01 fails", not "what if CI 4711 fails".  A name is
    looked up among the CIs ``user`` may see (``None``: all) with one query for every name; a name
    shared by several CIs (a server and the host discovery found, say) is not guessed: the message
    lists the candidates with their ids, and the caller answers 400 with it.  Digits are ids.
    """
    from cmdb.core.models.registry import ConfigurationItem
    from cmdb.users.permissions import restrict

    refs = [r.strip() for r in refs if r and r.strip()]
    names = {r for r in refs if not (r.isascii() and r.isdigit())}
    found: dict[str, list[tuple[int, str]]] = {}
    if names:
        qs = ConfigurationItem.objects.filter(name__in=names)
        if user is not None:
            qs = restrict(qs, user, "view")
        for pk, name, kind in qs.order_by("pk").values_list("pk", "name", "kind"):
            found.setdefault(name, []).append((pk, kind))
    ids: list[int] = []
    errors: list[str] = []
    for ref in refs:
        if ref not in names:
            if len(ref) > 18:
                errors.append(f"{ref}: not a CI id.")
            else:
                ids.append(int(ref))
            continue
        hits = found.get(ref, [])
        if len(hits) == 1:
            ids.append(hits[0][0])
        elif not hits:
            errors.append(f"No CI named {ref!r} (no such CI you may see).")
        else:
            listed = ", ".join(f"{pk} ({kind})" for pk, kind in hits[:10])
            errors.append(f"{ref!r} is ambiguous: {len(hits)} CIs have this name, give the id of one: {listed}.")
    return ids, errors


# --- the public API ----------------------------------------------------------------------


class ImpactResult:
    """The answer to "what if these CIs fail?", computed once and rendered lazily.

    The walk (states and explaining parents for every reached CI, as arrays) is done up
    front; names, paths and the notify lists are read from the registry only when asked
    for, and only for the rows asked for: a core switch reaches most of the data center,
    and a change manager reads the summary, the services and the first page.
    """

    def __init__(self, *, mode: str, failed: list[dict[str, Any]], graph: Graph, state: np.ndarray,
                 parent: np.ndarray, order: np.ndarray, vis: Visibility) -> None:
        self.mode, self.failed, self.graph, self.vis = mode, failed, graph, vis
        self.state, self.parent = state, parent
        self.order = order  # reached indexes, nearest first, down before degraded
        self._rows: dict[int, tuple] = {}
        self._visible: np.ndarray | None = None
        self._affected: list[dict[str, Any]] | None = None
        self._services: list[dict[str, Any]] | None = None
        self._notify: tuple[list, list] | None = None
        self._paths: dict[int, tuple[list, list, list]] = {}  # index -> (path ids, names, via), built lazily
        self.start_ids = [f["ci_id"] for f in failed]
        #: index -> why, for CIs whose state a rule beyond the graph decided (VMs on a failed host).
        self.reasons: dict[int, str] = {}
        #: indexes reached by placement (a VM on its host) rather than by a relationship.
        self.placed: set[int] = set()

    # visibility ------------------------------------------------------------------------

    def _load_rows(self, idxs: Iterable[int]) -> None:
        wanted = self.graph.ids[np.fromiter(idxs, dtype=np.int64)].tolist()
        missing = [c for c in wanted if c not in self._rows]
        if missing:
            self._rows.update(registry_rows(missing))

    def visible_order(self) -> np.ndarray:
        """The reached indexes the user may see (a registry query only for restricted users)."""
        if self._visible is None:
            if self.vis.unrestricted:
                self._visible = self.order
            else:
                self._load_rows(self.order.tolist())
                rows, can_see = self._rows, self.vis.can_see
                ok = [(row := rows.get(ci)) is not None and can_see(row[0], row[2])
                      for ci in self.graph.ids[self.order].tolist()]
                self._visible = self.order[np.array(ok, dtype=bool)] if ok else self.order
        return self._visible

    @property
    def hidden_count(self) -> int:
        return len(self.order) - len(self.visible_order())

    def summary(self) -> dict[str, int]:
        visible = self.visible_order()
        down = int(np.count_nonzero(self.state[visible] == DOWN))
        return {"affected": len(visible), "down": down, "degraded": len(visible) - down,
                "services": len(self.services), "hidden": self.hidden_count}

    # rendering -------------------------------------------------------------------------

    def _render(self, idxs: list[int]) -> list[dict[str, Any]]:
        """Rows with their explanation paths.  A path is its parent's path plus one hop, so each
        reached CI's hop (visibility, name, relationship type) is worked out once and shared.

        Rendering every CI a core switch reaches creates a few hundred thousand lists and dicts,
        none of them cyclic; the garbage collector is paused meanwhile, else its passes over
        the growing heap cost more than the rendering itself."""
        paused = gc.isenabled() and len(idxs) > 1000
        if paused:
            gc.disable()
        try:
            return self._render_rows(idxs)
        finally:
            if paused:
                gc.enable()

    def _path_indexes(self, idxs: list[int], parent: Any = None) -> set[int]:
        """The indexes of ``idxs`` and of every ancestor whose path is not worked out yet."""
        parent = self.parent if parent is None else parent
        memo = self._paths
        needed: set[int] = set()
        for i in idxs:
            u = i
            while u != NO_PARENT and u not in memo and u not in needed:
                needed.add(u)
                u = int(parent[u])
        return needed

    def _render_rows(self, idxs: list[int]) -> list[dict[str, Any]]:
        parent = self.parent.tolist() if len(idxs) > 200 else self.parent  # many rows: plain ints are faster
        memo = self._paths
        self._load_rows(self._path_indexes(idxs, parent))
        rows, graph, vis = self._rows, self.graph, self.vis
        start = set(self.start_ids)
        ids = graph.ids

        types_from: dict[int, dict[int, int]] = {}

        def hop(u: int) -> tuple[int | None, str]:
            ci = int(ids[u])
            row = rows.get(ci)
            if ci in start:
                return ci, row[1] if row is not None else self._start_name(ci)
            if row is not None and vis.can_see(row[0], row[2]):
                return ci, row[1]
            return None, HIDDEN

        for i in idxs:
            stack = []
            u = i
            while u != NO_PARENT and u not in memo:
                stack.append(u)
                u = int(parent[u])
            base = memo.get(u) if u != NO_PARENT else None
            for v in reversed(stack):
                ci, name = hop(v)
                if base is None:
                    memo[v] = base = ([ci], [name], [])
                else:
                    u = int(parent[v])
                    types = types_from.get(u)
                    if types is None:
                        types = types_from[u] = graph.types_from(u)
                    slug = PLACED_VIA if v in self.placed else graph.type_slugs.get(
                        types.get(v, MEMBER_OF_GROUP), "?")
                    memo[v] = base = (base[0] + [ci], base[1] + [name], base[2] + [slug])
        out = []
        for i in idxs:
            ci = int(ids[i])
            row = rows.get(ci)
            if row is None:  # deleted since the graph was loaded
                continue
            kind, name, tenant_id, _owner, criticality = row
            path, names, via = memo[i]
            out.append({
                "ci_id": ci, "kind": kind, "name": name, "state": STATE_NAMES[int(self.state[i])],
                "criticality": criticality, "tenant_id": tenant_id, "path": path, "path_names": names, "via": via,
                "reason": self.reasons.get(i),
            })
        return out

    def _start_name(self, ci: int) -> str:
        return next((f["name"] for f in self.failed if f["ci_id"] == ci), HIDDEN)

    def page(self, limit: int | None = None) -> list[dict[str, Any]]:
        visible = self.visible_order()
        return self._render((visible if not limit else visible[:limit]).tolist())

    @property
    def affected(self) -> list[dict[str, Any]]:
        if self._affected is None:
            self._affected = self._render(self.visible_order().tolist())
        return self._affected

    def service_hits(self) -> list[int]:
        """Indexes of the visible services reached, down before degraded."""
        visible = self.visible_order()
        return visible[self.graph.is_service[visible]].tolist()

    @property
    def services(self) -> list[dict[str, Any]]:
        if self._services is None:
            hit = self.service_hits()
            self._services = _services(self._render(hit)) if hit else []
        return self._services

    def _notify_lists(self) -> tuple[list, list]:
        if self._notify is None:
            self._notify = _notify(self.graph.ids[self.visible_order()].tolist())
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
    start = graph.locate(ci_ids)
    state, parent, order = propagate(graph, start, MODES[mode])
    reasons: dict[int, str] = {}
    placed: set[int] = set()
    if mode == "down":
        state, parent, order, reasons, placed = _apply_placement(graph, start, state, parent, order)
    result = ImpactResult(mode=mode, failed=[_brief(c, start_rows[c]) for c in ci_ids], graph=graph, state=state,
                          parent=parent, order=order, vis=vis)
    result.reasons, result.placed = reasons, placed
    return result


def _placements(down_ci_ids: set[int]) -> list[tuple[int, int, str, str, bool]]:
    """(VM CI, host CI, host name, cluster name, cluster has HA restart) of the VMs placed on those hosts.

    One query.  For a small failure the hosts are the filter; a failure reaching thousands of CIs
    reads every placed VM instead of sending thousands of ids (few VMs have a host recorded)."""
    from cmdb.virtualization.models import VirtualMachine

    qs = VirtualMachine.objects.filter(device__isnull=False, ci__isnull=False)
    if len(down_ci_ids) <= 2000:
        qs = qs.filter(device__ci_id__in=list(down_ci_ids))
    rows = qs.values_list("ci_id", "device__ci_id", "device__name", "cluster__name", "cluster__custom_field_data")
    return [(vm, host, host_name, cluster or "", bool(cf and cf.get(HA_FIELD) is True))
            for vm, host, host_name, cluster, cf in rows if host in down_ci_ids]


def _apply_placement(graph: Graph, start: list[int], state: np.ndarray, parent: np.ndarray,
                     order: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, str], set[int]]:
    """The rule the relationship graph cannot express: a VM on a failed hypervisor.

    Relationships say a VM is ``hosted_on`` its cluster, which survives one host (its hosts are an
    N+1 redundancy group), so the walk finds such VMs at most degraded.  Where the VM actually
    runs decides more: in a cluster with HA restart (custom field ``ha_restart``) it is restarted on
    another host (degraded: an outage of minutes, stated as such); without HA it is down until
    someone moves it, and so is everything that needs it -- the walk is repeated with those VMs
    failed too, until no further host goes down (a VM is rarely a hypervisor: one round, mostly).
    """
    reasons: dict[int, str] = {}
    on_host: dict[int, int] = {}  # VM index -> the index of its failed host, for VMs that went down
    handled: set[int] = set()
    ids = graph.ids
    for _round in range(4):
        down = np.concatenate([np.asarray(start, dtype=np.int64), np.flatnonzero(state == DOWN)])
        down_ci = set(ids[down].tolist()) if down.size else set()
        fresh = [p for p in _placements(down_ci) if p[0] not in handled] if down_ci else []
        if not fresh:
            break
        host_idx = dict(zip(ids[down].tolist(), down.tolist(), strict=True))
        newly_down: list[tuple[int, int]] = []
        for vm_ci, host_ci, host_name, cluster, ha in fresh:
            handled.add(vm_ci)
            located = graph.locate([vm_ci])
            if not located:
                continue  # a VM without relationships is in no impact answer
            v = located[0]
            if state[v] == DOWN:
                continue  # down for a reason of its own, which its path already explains
            if ha:
                if state[v] != OK:  # reached (through its cluster): degraded, and now we say why
                    reasons[v] = f"restarted elsewhere by HA in cluster {cluster}"
            else:
                reasons[v] = f"runs on {host_name}, which is down; cluster {cluster or '-'} has no HA restart"
                newly_down.append((v, host_idx[host_ci]))
        if not newly_down:
            break
        on_host.update(newly_down)
        extra = list(on_host)
        state, parent, order = propagate(graph, [*start, *extra], DOWN)
        state[extra] = DOWN
        for v, h in on_host.items():
            parent[v] = h
        order = np.concatenate([np.asarray(extra, dtype=np.int64), order[~np.isin(order, extra)]])
    # An HA-restarted VM that a later round took down after all (its cluster failed) is explained by its path.
    reasons = {v: why for v, why in reasons.items() if v in on_host or state[v] != DOWN}
    return state, parent, order, reasons, set(on_host)


def services_impacted_each(ci_ids: Iterable[int], *, mode: str = "down",
                           user: Any = None) -> dict[int, list[dict[str, Any]]]:
    """For each CI on its own, the services its failure affects: ``impact_of([ci]).services`` for many CIs.

    An Alertmanager notification can open thousands of incidents, each recording what the failure
    of its CI takes down, and one ``impact_of`` costs a few queries.  Here each CI is still walked
    on its own over the cached graph, but the registry rows and the service rows of all the walks
    are read with one query each.  A CI that does not exist or that ``user`` may not see gets an
    empty list (where ``impact_of`` raises :class:`UnknownCI`).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    ids = list(dict.fromkeys(int(c) for c in ci_ids))
    out: dict[int, list[dict[str, Any]]] = {c: [] for c in ids}
    vis = Visibility(user)
    rows = registry_rows(ids)
    known = [c for c in ids if c in rows and vis.can_see(rows[c][0], rows[c][2])]
    if not known:
        return out
    graph = get_graph()
    results: dict[int, ImpactResult] = {}
    for c in known:
        state, parent, order = propagate(graph, graph.locate([c]), MODES[mode])
        result = ImpactResult(mode=mode, failed=[_brief(c, rows[c])], graph=graph, state=state, parent=parent,
                              order=order, vis=vis)
        result._rows = rows  # one registry cache shared by every walk
        results[c] = result

    def preload(wanted: Iterable[int]) -> None:
        missing = list({ci for ci in wanted if ci not in rows})
        rows.update(registry_rows(missing))

    if not vis.unrestricted:  # visibility filters each walk's reached CIs by their rows
        preload(ci for r in results.values() for ci in graph.ids[r.order].tolist())
    hits = {c: r.service_hits() for c, r in results.items()}
    preload(ci for c, r in results.items() for ci in graph.ids[list(r._path_indexes(hits[c]))].tolist())
    rendered = {c: r._render(hits[c]) if hits[c] else [] for c, r in results.items()}
    found = _service_rows({h["ci_id"] for hs in rendered.values() for h in hs})
    for c in known:
        out[c] = _service_entries(rendered[c], found)
    return out


def _service_rows(ci_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The Service rows of some service CIs, by CI id (one query)."""
    from .models import Service

    wanted = list(ci_ids)
    if not wanted:
        return {}
    return {svc["ci_id"]: svc for svc in Service.objects.filter(ci_id__in=wanted).values(
        "id", "ci_id", "name", "slug", "service_type", "sla_availability", "support_hours", "criticality"
    )}


def _services(hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return _service_entries(hits, _service_rows(a["ci_id"] for a in hits))


def _service_entries(hits: list[dict[str, Any]], found: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for hit in hits:
        svc = found.get(hit["ci_id"])
        if svc is None:
            continue
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
                cur.execute(f"SELECT DISTINCT tenant_id, owner_id FROM {table} WHERE id = ANY(%s::bigint[]) "  # noqa: S608
                            "AND (tenant_id IS NOT NULL OR owner_id IS NOT NULL)", [id_array(chunk)])
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
    parent, order = walk_dependencies(graph, graph.locate(ci_ids))
    reached = order.tolist()
    rows = registry_rows(graph.ids[order].tolist())
    seen = {c: True for c in ci_ids}
    for c, row in rows.items():
        seen[c] = vis.can_see(row[0], row[2])
    names = {**{c: r[1] for c, r in rows.items()}, **{c: r[1] for c, r in start_rows.items()}}
    items, hidden = [], 0
    for i, ci in zip(reached, graph.ids[order].tolist(), strict=True):
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
