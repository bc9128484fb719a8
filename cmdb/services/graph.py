"""The dependency graph in memory: compressed sparse rows in numpy arrays, cached per process.

Impact analysis walks the relationship table for every question a change
manager asks; a PostgreSQL recursive CTE pays planning, joins and row
materialisation on every hop.  Here each web process keeps the whole graph as
a few flat numpy integer arrays (~4 bytes per edge and direction, a few MB for
300,000 edges) and walks it level by level with vectorised operations
(:mod:`cmdb.services.impact`), so a walk over the whole data center costs a
few dozen numpy calls per hop instead of a Python loop over every edge.

The graph is loaded with four queries (on PostgreSQL the edges arrive as one
binary ``COPY`` that numpy reads without creating a Python object per row) and
only re-read when it changed.  Change detection costs one indexed single-row
query per request: every relationship or redundancy write stores a new random
token in :class:`~cmdb.services.models.GraphVersion` (random, not incremented,
so a rolled-back transaction can never make an old cached graph look current).

Edges are stored in the direction failure travels ("dependents"): for
``app runs_on vm`` a failure of ``vm`` reaches ``app``.  Redundancy
memberships are kept apart (member -> group) because a group only fails when
fewer than ``min_up`` members survive.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from django.db import connection

MEMBER_OF_GROUP = -1  # the "type" of a membership hop in explanation paths
NOT_A_GROUP = np.iinfo(np.int32).max  # the down-member threshold of a node that is no group

_lock = threading.Lock()
_cached: Graph | None = None


@dataclass
class Graph:
    """CSR arrays in index space (0..n-1); ``ids`` maps an index to its CI id (sorted, so lookups bisect)."""

    token: int
    ids: np.ndarray  # int64, sorted: index -> CI id
    dep_ptr: np.ndarray  # CSR: dependents of each index (who fails when it fails)
    dep_idx: np.ndarray
    dep_type: np.ndarray  # relationship type id of each dependent edge
    sup_ptr: np.ndarray  # CSR: what each index depends on (reverse edges, incl. group -> member)
    sup_idx: np.ndarray
    grp_ptr: np.ndarray  # CSR: groups each index is a member of
    grp_idx: np.ndarray
    any_ptr: np.ndarray  # CSR: dependents and groups together (the "degraded" pass follows both alike)
    any_idx: np.ndarray
    #: For a group index: how many members must be down before the group is down (size - min_up + 1);
    #: NOT_A_GROUP for every other index.
    down_threshold: np.ndarray
    is_service: np.ndarray  # bool per index
    in_group: np.ndarray  # bool per index: a member of at least one redundancy group
    type_slugs: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Zero-copy memoryviews of the same arrays for the Python walk of small impacts:
        # indexing a memoryview yields a plain int several times faster than indexing numpy.
        self.mv_dep_ptr, self.mv_dep_idx = memoryview(self.dep_ptr), memoryview(self.dep_idx)
        self.mv_grp_ptr, self.mv_grp_idx = memoryview(self.grp_ptr), memoryview(self.grp_idx)
        self.mv_threshold = memoryview(self.down_threshold)

    @property
    def size(self) -> int:
        return len(self.ids)

    @property
    def services(self) -> np.ndarray:
        """Indexes of the service CIs."""
        return np.flatnonzero(self.is_service)

    def locate(self, ci_ids: Iterable[int]) -> list[int]:
        """Indexes of those CI ids that are in the graph (CIs without edges are not)."""
        wanted = np.asarray(list(ci_ids), dtype=np.int64)
        if not wanted.size or not self.size:
            return []
        pos = np.searchsorted(self.ids, wanted)
        pos[pos >= self.size] = 0
        return pos[self.ids[pos] == wanted].tolist()

    def types_from(self, u: int) -> dict[int, int]:
        """Dependent -> relationship type for every dependent edge of ``u`` (rendering many paths through
        one CI, e.g. a cluster's 800 VMs, looks each up in one dict instead of scanning the row each time)."""
        lo, hi = int(self.dep_ptr[u]), int(self.dep_ptr[u + 1])
        return dict(zip(self.dep_idx[lo:hi].tolist(), self.dep_type[lo:hi].tolist(), strict=True))

    def edge_type(self, u: int, v: int) -> int:
        """The relationship type of the dependent edge u -> v (for explanations only)."""
        lo, hi = int(self.dep_ptr[u]), int(self.dep_ptr[u + 1])
        row = self.dep_idx[lo:hi].tolist()  # rows are short: a list search beats numpy's call overhead
        return int(self.dep_type[lo + row.index(v)]) if v in row else MEMBER_OF_GROUP


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


def csr(n: int, src: np.ndarray, dst: np.ndarray, *extra: np.ndarray) -> tuple[np.ndarray, ...]:
    """Compressed sparse rows (ptr, dst[, extra...]) from parallel edge arrays in index space."""
    order = np.argsort(src, kind="stable")
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=ptr[1:])
    return (ptr, dst[order].astype(np.int32), *(e[order].astype(np.int32) for e in extra))


_EDGES_FROM = "FROM {rel} r JOIN {typ} t ON t.id = r.type_id WHERE t.propagation <> 'none'"
_EDGES_SQL = "SELECT r.source_id, r.target_id, r.type_id, CASE WHEN t.propagation = 'to_source' THEN 1 ELSE 0 END "
# PostgreSQL: four bigint columns, so every row of the binary COPY has the same layout (_ROW4).
_EDGES_PG = ("COPY (SELECT r.source_id::int8, r.target_id::int8, r.type_id::int8, "
             "(t.propagation = 'to_source')::int::int8 {where}) TO STDOUT (FORMAT BINARY)")
# One row of that COPY: the field count, then (length, value) per field, big-endian.
_ROW4 = np.dtype([("n", ">i2"), ("l0", ">i4"), ("a", ">i8"), ("l1", ">i4"), ("b", ">i8"),
                  ("l2", ">i4"), ("c", ">i8"), ("l3", ">i4"), ("d", ">i8")])


def _edge_rows() -> np.ndarray:
    """(source, target, type, to_source) per propagating edge as an int64 array of shape (m, 4)."""
    where = _EDGES_FROM.format(rel=_table("services_relationship"), typ=_table("services_relationshiptype"))
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            with cur.cursor.copy(_EDGES_PG.format(where=where)) as cp:
                data = b"".join(bytes(chunk) for chunk in cp)
            # Header: 11-byte signature, 4 bytes of flags, the extension length and extension; 2-byte trailer.
            body = data[19 + int.from_bytes(data[15:19], "big"):-2]
            rows = np.frombuffer(body, dtype=_ROW4)
            if len(body) != rows.nbytes or (rows.size and (rows["n"] != 4).any()):
                raise RuntimeError("unexpected binary COPY layout for the relationship table")
            return np.stack([rows["a"], rows["b"], rows["c"], rows["d"]], axis=1).astype(np.int64)
        cur.execute(_EDGES_SQL + where)
        return np.array(cur.fetchall(), dtype=np.int64).reshape(-1, 4)


def load(token: int) -> Graph:
    """Read edges, redundancy memberships, services and type names (four queries) into CSR arrays."""
    edges = _edge_rows()
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT g.ci_id, g.min_up, m.ci_id FROM {_table('services_redundancymember')} m "  # noqa: S608
            f"JOIN {_table('services_redundancygroup')} g ON g.id = m.group_id WHERE g.ci_id IS NOT NULL"
        )
        members = np.array(cur.fetchall(), dtype=np.int64).reshape(-1, 3)
        cur.execute(f"SELECT ci_id FROM {_table('services_service')} WHERE ci_id IS NOT NULL")  # noqa: S608
        service_cis = np.array([row[0] for row in cur.fetchall()], dtype=np.int64)
        cur.execute(f"SELECT id, slug FROM {_table('services_relationshiptype')}")  # noqa: S608
        type_slugs = dict(cur.fetchall())
    return build(token, edges, members, service_cis, type_slugs)


def build(token: int, edges: np.ndarray, members: np.ndarray, service_cis: np.ndarray,
          type_slugs: dict[int, str]) -> Graph:
    """The graph from (source, target, type, to_source) edge rows and (group, min_up, member) rows (CI ids)."""
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 4)
    members = np.asarray(members, dtype=np.int64).reshape(-1, 3)
    service_cis = np.asarray(service_cis, dtype=np.int64)
    ids = np.unique(np.concatenate([edges[:, 0], edges[:, 1], members[:, 0], members[:, 2]]))
    n = len(ids)
    source, target = np.searchsorted(ids, edges[:, 0]), np.searchsorted(ids, edges[:, 1])
    to_source = edges[:, 3] == 1
    dep_from = np.where(to_source, target, source)
    dep_to = np.where(to_source, source, target)
    dep_t = edges[:, 2]
    grp, member = np.searchsorted(ids, members[:, 0]), np.searchsorted(ids, members[:, 2])
    down_threshold = np.full(n, NOT_A_GROUP, dtype=np.int64)
    if len(grp):
        size = np.bincount(grp, minlength=n)
        min_up = np.zeros(n, dtype=np.int64)
        min_up[grp] = members[:, 1]
        is_group = size > 0
        down_threshold[is_group] = size[is_group] - min_up[is_group] + 1
    dep_ptr, dep_idx, dep_type = csr(n, dep_from, dep_to, dep_t)
    # Reverse view for "what does X depend on": dependency edges reversed plus group -> member.
    sup_ptr, sup_idx = csr(n, np.concatenate([dep_to, grp]), np.concatenate([dep_from, member]))
    grp_ptr, grp_idx = csr(n, member, grp)
    any_ptr, any_idx = csr(n, np.concatenate([dep_from, member]), np.concatenate([dep_to, grp]))
    is_service = np.zeros(n, dtype=bool)
    if service_cis.size and n:
        pos = np.searchsorted(ids, service_cis)
        pos = pos[pos < n]
        is_service[pos[np.isin(ids[pos], service_cis)]] = True
    type_slugs = {**type_slugs, MEMBER_OF_GROUP: "member of redundancy group"}
    return Graph(token, ids, dep_ptr, dep_idx, dep_type, sup_ptr, sup_idx, grp_ptr, grp_idx, any_ptr, any_idx,
                 down_threshold.astype(np.int32), is_service, np.diff(grp_ptr) > 0, type_slugs)


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
