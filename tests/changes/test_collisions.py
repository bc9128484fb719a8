"""Collisions: overlapping windows and intersecting blast radii flag both changes; disjoint ones do not."""

from __future__ import annotations

import json

import numpy as np

from cmdb.changes.collisions import _parse, shared_with


def test_parse_json_lists_in_one_go() -> None:
    texts = ["[1, 2, 3]", "[]", "[40]", json.dumps(list(range(100, 1100))), "[ 7 ,8 ]"]
    flat, lengths = _parse(texts)
    assert lengths.tolist() == [3, 0, 1, 1000, 2]
    assert flat.tolist() == [1, 2, 3, 40, *range(100, 1100), 7, 8]
    flat, lengths = _parse(["[]", "[]"])
    assert flat.size == 0 and lengths.tolist() == [0, 0]


def test_shared_with_finds_every_intersection() -> None:
    texts = ["[1, 2, 3]", "[]", "[9, 10]", "[3, 10, 11]", "[50]"]
    flat, lengths = _parse(texts)
    ids = np.array([101, 102, 103, 104, 105])
    assert shared_with(np.array([3, 10, 99]), ids, lengths, flat) == [(101, [3]), (103, [10]), (104, [3, 10])]
    assert shared_with(np.array([77]), ids, lengths, flat) == []
    assert shared_with(np.array([], dtype=np.int64), ids, lengths, flat) == []
