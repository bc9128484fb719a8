"""The dependency graph in memory: compressed sparse rows, cached per process.

Impact analysis walks the relationship table for every question a change
manager asks; a PostgreSQL recursive CTE pays planning, joins and row
materialisation on every hop.  Here each web process keeps the whole graph as
a few flat integer arrays (``array('i')``: 4 bytes per edge, ~5 MB for
300,000 edges), loaded with two queries, and only re-reads it when the graph
changed.  Change detection costs one indexed single-row query per request:
every relationship or redundancy write stores a new random token in
:class:`~cmdb.services.models.GraphVersion` (random, not incremented, so a
rolled-back transaction can never make an old cached graph look current).

Edges are stored in the direction failure travels ("dependents"): for
``app runs_on vm`` a failure of ``vm`` reaches ``app``.  Redundancy
memberships are kept apart (member -> group) because a group only fails when
fewer than ``min_up`` members survive.
"""

from __future__ import annotations

import secrets
import threading
from array import array
from dataclasses import dataclass, field

from django.db import connection

MEMBER_OF_GROUP = -1  # the "type" of a membership hop in explanation paths

_lock = threading.Lock()
_cached: Graph | None = None


@dataclass
class Graph:
    token: int
    ids: array  # index -> CI id
    index: dict[int, int]  # CI id -> index
    dep_ptr: array  # CSR: dependents of each index (who fails when it fails)
    dep_idx: array
    dep_type: array  # relationship type id of each dependent edge
    sup_ptr: array  # CSR: what each index depends on (reverse edges, incl. group members)
    sup_idx: array
    sup_type: array
    grp_ptr: array  # CSR: groups each index is a member of
    grp_idx: array
    group_min: dict[int, int] = field(default_factory=dict)  # group index -> min_up
    group_size: dict[int, int] = field(default_factory=dict)  # group index -> number of members
    services: frozenset[int] = frozenset()  # indexes of service CIs
    type_slugs: dict[int, str] = field(default_factory=dict)
    # The walk's view of the CSR rows: one tuple of neighbour indexes per node.  Iterating a tuple
    # is several times faster in Python than indexing an array, and the neighbour ints are shared.
    dependents: list[tuple[int, ...]] = field(default_factory=list)
    supports: list[tuple[int, ...]] = field(default_factory=list)
    groups_of: list[tuple[int, ...]] = field(default_factory=list)

    def edge_type(self, u: int, v: int) -> int:
        """The relationship type of the dependent edge u -> v (for explanations only)."""
        for k in range(self.dep_ptr[u], self.dep_ptr[u + 1]):
            if self.dep_idx[k] == v:
                return self.dep_type[k]
        return MEMBER_OF_GROUP

    @property
    def edge_count(self) -> int:
        return len(self.dep_idx)


def _table(name: str) -> str:
    return connection.ops.quote_name(name)


def current_token() -> int:
    with connection.cursor() as cur:
        cur.execute(f"SELECT version FROM {_table('services_graphversion')} WHERE id = 1")  # noqa: S608
        row = cur.fetchone()
    return row[0] if row else 0


def bump() -> None:
    """Mark the graph as changed (inside the caller's transaction)."""
    from .models import GraphVersion

    token = secrets.randbits(62)
    if not GraphVersion.objects.filter(pk=1).update(version=token):
        GraphVersion.objects.update_or_create(pk=1, defaults={"version": token})


def _csr(n: int, pairs_from: array, pairs_to: array, types: array | None) -> tuple[array, array, array]:
    """Compressed sparse rows from parallel arrays of (from, to[, type]) in index space."""
    counts = [0] * (n + 1)
    for f in pairs_from:
        counts[f + 1] += 1
    for i in range(n):
        counts[i + 1] += counts[i]
    ptr = array("i", counts)
    fill = list(counts[:n])
    out = array("i", bytes(4 * len(pairs_from)))
    out_type = array("i", bytes(4 * len(pairs_from)))
    for k, f in enumerate(pairs_from):
        pos = fill[f]
        out[pos] = pairs_to[k]
        if types is not None:
            out_type[pos] = types[k]
        fill[f] = pos + 1
    return ptr, out, out_type


def load(token: int) -> Graph:
    """Read edges and redundancy memberships (two queries) into CSR arrays."""
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT r.source_id, r.target_id, r.type_id, t.propagation FROM {_table('services_relationship')} r "  # noqa: S608
            f"JOIN {_table('services_relationshiptype')} t ON t.id = r.type_id WHERE t.propagation <> 'none'"
        )
        edges = cur.fetchall()
        cur.execute(
            f"SELECT g.ci_id, g.min_up, m.ci_id FROM {_table('services_redundancymember')} m "  # noqa: S608
            f"JOIN {_table('services_redundancygroup')} g ON g.id = m.group_id WHERE g.ci_id IS NOT NULL"
        )
        members = cur.fetchall()
        cur.execute(f"SELECT ci_id FROM {_table('services_service')} WHERE ci_id IS NOT NULL")  # noqa: S608
        service_cis = [row[0] for row in cur.fetchall()]
        cur.execute(f"SELECT id, slug FROM {_table('services_relationshiptype')}")  # noqa: S608
        type_slugs = dict(cur.fetchall())
    index: dict[int, int] = {}
    ids = array("q")

    def ix(ci: int) -> int:
        i = index.get(ci)
        if i is None:
            i = index[ci] = len(ids)
            ids.append(ci)
        return i

    dep_from, dep_to, dep_t = array("i"), array("i"), array("i")
    for source, target, type_id, propagation in edges:
        s, t = ix(source), ix(target)
        if propagation == "to_source":
            dep_from.append(t)
            dep_to.append(s)
        else:
            dep_from.append(s)
            dep_to.append(t)
        dep_t.append(type_id)
    grp_from, grp_to = array("i"), array("i")
    group_min: dict[int, int] = {}
    group_size: dict[int, int] = {}
    for group_ci, min_up, member_ci in members:
        g, m = ix(group_ci), ix(member_ci)
        grp_from.append(m)
        grp_to.append(g)
        group_min[g] = min_up
        group_size[g] = group_size.get(g, 0) + 1
    n = len(ids)
    dep_ptr, dep_idx, dep_type = _csr(n, dep_from, dep_to, dep_t)
    # Reverse view for "what does X depend on": dependency edges reversed plus group -> member.
    sup_from = dep_to + grp_to
    sup_to = dep_from + grp_from
    sup_t = dep_t + array("i", [MEMBER_OF_GROUP]) * len(grp_from)
    sup_ptr, sup_idx, sup_type = _csr(n, sup_from, sup_to, sup_t)
    grp_ptr, grp_idx, _ = _csr(n, grp_from, grp_to, None)
    shared = list(range(n))
    services = frozenset(index[c] for c in service_cis if c in index)
    type_slugs[MEMBER_OF_GROUP] = "member of redundancy group"
    return Graph(token, ids, index, dep_ptr, dep_idx, dep_type, sup_ptr, sup_idx, sup_type, grp_ptr, grp_idx,
                 group_min, group_size, services, type_slugs, _rows(dep_ptr, dep_idx, shared),
                 _rows(sup_ptr, sup_idx, shared), _rows(grp_ptr, grp_idx, shared))


def _rows(ptr: array, idx: array, shared: list[int]) -> list[tuple[int, ...]]:
    empty: tuple[int, ...] = ()
    return [tuple([shared[v] for v in idx[ptr[u]:ptr[u + 1]]]) if ptr[u + 1] > ptr[u] else empty
            for u in range(len(ptr) - 1)]


def get_graph() -> Graph:
    """The current graph: the cached one if nobody changed relationships since it was loaded."""
    global _cached
    token = current_token()
    graph = _cached
    if graph is not None and graph.token == token:
        return graph
    with _lock:
        graph = _cached
        if graph is not None and graph.token == token:
            return graph
        graph = load(token)
        _cached = graph
        return graph


def clear_cache() -> None:
    global _cached
    _cached = None
