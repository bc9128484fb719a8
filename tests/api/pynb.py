"""Helpers for driving the live server with unmodified pynetbox.

``Traffic`` records every HTTP exchange pynetbox makes (a response hook on its
requests session: the real requests, not a mock), so tests can check what the
client sent as well as what it got.  ``crud_cycle`` runs the full life of one
endpoint's objects through pynetbox's public API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pynetbox.core.response import Record


@dataclass
class Exchange:
    method: str
    path: str
    params: dict[str, list[str]]
    body: Any
    status: int


@dataclass
class Traffic:
    exchanges: list[Exchange] = field(default_factory=list)

    def hook(self, response: Any, *args: Any, **kwargs: Any) -> None:
        req = response.request
        parts = urlsplit(req.url)
        body = req.body
        if isinstance(body, bytes):
            body = body.decode()
        self.exchanges.append(Exchange(req.method, parts.path, parse_qs(parts.query, keep_blank_values=True),
                                       json.loads(body) if body else None, response.status_code))

    def clear(self) -> None:
        self.exchanges.clear()

    def of(self, method: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.method == method]


def record_traffic(nb: Any) -> Traffic:
    traffic = Traffic()
    nb.http_session.hooks["response"].append(traffic.hook)
    return traffic


def value_of(v: Any) -> Any:
    """A field read back through pynetbox, as the scalar that was written."""
    if isinstance(v, Record):
        d = dict(v)
        if "value" in d and "label" in d:  # a choice
            return d["value"]
        return v.id
    if isinstance(v, list):
        return sorted(value_of(x) for x in v)
    return v


def crud_cycle(ep: Any, *, create: dict[str, Any], create_nested: dict[str, Any] | None, bulk: list[dict[str, Any]],
               change: tuple[str, Any], bulk_change: tuple[str, Any], lookup: str | tuple[str, Any] = "name",
               filters: dict[str, Any] | None = None, expect_filtered: int | None = None) -> None:
    """Create (integer and nested-dict FKs, single and bulk), read (all, filter, get by id and by
    attribute, count, brief), change (save, bulk update) and delete (single and bulk) through pynetbox."""
    before = ep.count()
    one = ep.create(**create)
    assert isinstance(one, Record) and isinstance(one.id, int), one
    assert one.url.endswith(f"/{one.id}/")
    for key, wanted in create.items():
        assert value_of(getattr(one, key)) == value_of(wanted), (key, getattr(one, key), wanted)
    created_ids = [one.id]
    if create_nested is not None:
        nested = ep.create(create_nested)
        created_ids.append(nested.id)
    many = ep.create(bulk)
    assert isinstance(many, list) and len(many) == len(bulk)
    created_ids += [r.id for r in many]
    assert len(set(created_ids)) == len(created_ids)

    assert ep.count() == before + len(created_ids)
    listed = {r.id: r for r in ep.all()}
    assert set(created_ids) <= set(listed)
    assert len(listed) == before + len(created_ids)

    got = ep.get(one.id)
    assert got.id == one.id and dict(got) == dict(listed[one.id])
    param, wanted = lookup if isinstance(lookup, tuple) else (lookup, create[lookup])
    assert ep.get(**{param: wanted}).id == one.id
    assert ep.get(999_999_999) is None
    if filters is not None:
        found = list(ep.filter(**filters))
        assert len(found) == expect_filtered, (filters, [str(r) for r in found])
        assert ep.count(**filters) == expect_filtered
    brief = list(ep.filter(id=one.id, brief=1))
    assert len(brief) == 1 and brief[0].id == one.id
    assert len(dict(brief[0])) < len(dict(got)), "brief form must be shorter than the full one"

    name, value = change
    setattr(got, name, value)
    assert got.save() is True
    assert value_of(getattr(ep.get(one.id), name)) == value_of(value)
    assert got.save() is False  # nothing changed any more

    name, value = bulk_change
    for r in many:
        setattr(r, name, value)
    updated = ep.update(many)
    assert [r.id for r in updated] == [r.id for r in many]
    for r in ep.filter(id=[r.id for r in many]):
        assert value_of(getattr(r, name)) == value_of(value), (name, getattr(r, name))

    assert got.delete() is True
    assert ep.get(one.id) is None
    rest = [i for i in created_ids if i != one.id]
    assert ep.delete(rest) is True
    assert ep.count() == before
