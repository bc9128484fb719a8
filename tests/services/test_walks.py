"""The two impact walks (a Python queue for small impacts, vectorised hops for large ones) agree.

Both must reach the same least fixpoint of the state rules on any graph: random graphs with
cycles and overlapping redundancy groups, with one or several failed CIs, in both modes.  The
parents may differ, but each must be a valid explanation: an edge or a membership from a CI
that is at least as badly off, ending at a failed CI.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from cmdb.services.graph import build
from cmdb.services.impact import DEGRADED, DOWN, NO_PARENT, propagate


def random_graph(seed: int, n: int = 60, m: int = 140):
    rng = random.Random(seed)
    edges = [(rng.randrange(n), rng.randrange(n), 1, rng.randrange(2)) for _ in range(m)]
    edges = [e for e in edges if e[0] != e[1]]
    members = []
    for g in range(n, n + 6):  # six groups, members drawn from the CIs, min_up between 1 and size
        chosen = rng.sample(range(n), rng.randint(2, 5))
        min_up = rng.randint(1, len(chosen))
        members += [(g, min_up, c) for c in chosen]
        edges.append((rng.randrange(n), g, 1, 0))  # something depends on the group
    return build(1, np.array(edges), np.array(members), np.array([], dtype=np.int64), {1: "depends_on"})


def check_parents(graph, state, parent, start) -> None:
    dep = {(u, int(v)) for u in range(graph.size) for v in graph.dep_idx[graph.dep_ptr[u]:graph.dep_ptr[u + 1]]}
    grp = {(u, int(v)) for u in range(graph.size) for v in graph.grp_idx[graph.grp_ptr[u]:graph.grp_ptr[u + 1]]}
    for v in np.flatnonzero(state).tolist():
        if v in start:
            assert parent[v] == NO_PARENT
            continue
        u = int(parent[v])
        assert (u, v) in dep or (u, v) in grp
        if (u, v) in dep and (u, v) not in grp:
            assert state[u] >= state[v]  # a dependent is never worse off than what explains it
        seen = set()
        while parent[v] != NO_PARENT:  # the chain ends at a failed CI, without loops
            assert v not in seen
            seen.add(v)
            v = int(parent[v])
        assert v in start


@pytest.mark.parametrize("seed", range(40))
def test_small_and_vectorised_walks_reach_the_same_states(seed: int) -> None:
    graph = random_graph(seed)
    rng = random.Random(seed)
    for mode in (DOWN, DEGRADED):
        start = graph.locate(rng.sample(range(60), rng.randint(1, 4)))
        small = propagate(graph, start, mode, small_first=True)
        big = propagate(graph, start, mode, small_first=False)
        assert (small[0] == big[0]).all()
        assert sorted(small[2].tolist()) == sorted(big[2].tolist())
        assert set(big[2].tolist()).isdisjoint(start)
        for state, parent, _order in (small, big):
            check_parents(graph, state, parent, set(start))
        if mode == DEGRADED:
            assert DOWN not in big[0]


def test_vectorised_walk_counts_group_members_once() -> None:
    # Group 10 needs 2 of its 3 members; 1 and 2 fail, 3 stays up: down only when two are down.
    edges = np.array([(10, 20, 1, 0)])
    members = np.array([(10, 2, 1), (10, 2, 2), (10, 2, 3)])
    graph = build(1, edges, members, np.array([20]), {1: "depends_on"})
    ix = dict(zip(graph.ids.tolist(), range(graph.size), strict=True))
    one = propagate(graph, [ix[1]], DOWN, small_first=False)[0]
    assert one[ix[10]] == DEGRADED and one[ix[20]] == DEGRADED
    two = propagate(graph, [ix[1], ix[2]], DOWN, small_first=False)[0]
    assert two[ix[10]] == DOWN and two[ix[20]] == DOWN and two[ix[3]] == 0
    assert graph.is_service[ix[20]] and not graph.is_service[ix[10]]
