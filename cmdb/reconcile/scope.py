"""The scope grammar of the reconcile framework: which CIs a run is about.

A scope is text, so it can sit in a schedule, a URL or a shell command::

    all                       every CI of the kinds the reconciler manages
    ci:12,13                  CIs by registry id
    name:web01,web02          CIs by name (``host:`` is the same, as Ansible users write it)
    kind:dcim.device          CIs of these kinds (among the reconciler's kinds)
    site:zittau               by slug of the typed object's site
    tenant:physics            by slug of the CI's tenant
    role:server               by slug of the typed object's role
    tag:web                   by tag slug
    platform:debian-12        by slug of the typed object's platform
    service:mail              the CIs service ``mail`` depends on (its whole stack)

Terms are separated by white space or ``;`` and are **ANDed**: ``site:zittau tag:web`` is the
web servers of Zittau.  Inside one term, comma-separated values are ORed (``tag:web,db``).  We
chose AND between terms because a scope narrows what a run touches; a union is two runs (or one
term with several values), and an AND-only grammar needs no brackets or precedence.

Resolution goes over the CI registry and the typed tables of the reconciler's kinds
(:attr:`cmdb.reconcile.base.Reconciler.kinds`), through :func:`cmdb.users.permissions.restrict`
for the requester: a tenant administrator's scope only ever reaches their tenant's CIs, whatever
the text says.  A term a kind's table cannot answer (``role:`` for a kind without a role)
matches nothing of that kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, Q, QuerySet

#: Term key → lookup on the typed model (None: handled specially).
LOOKUPS: dict[str, str | None] = {
    "ci": None, "name": "name__in", "host": "name__in", "kind": None, "site": "site__slug__in",
    "tenant": "ci__tenant__slug__in",
    "role": "role__slug__in", "tag": "tags__slug__in", "platform": "platform__slug__in", "service": None,
}
SCOPE_HELP = ("Give 'all' or terms such as ci:12,13 name:web01 host:web01 kind:dcim.device site:zittau tenant:physics "
              "role:server tag:web platform:debian service:mail, separated by spaces or ';' (all must match).")
_SPLIT = re.compile(r"[\s;]+")


class ScopeError(ValueError):
    """A scope that cannot be parsed or resolved; the message says what to write instead."""


@dataclass(frozen=True)
class Term:
    key: str
    values: tuple[str, ...]


@dataclass
class Selection:
    """A resolved scope: the CI ids in it per kind, in a stable order (the reconciler's ``desired`` input)."""

    scope: str
    by_kind: dict[str, list[int]] = field(default_factory=dict)

    @property
    def ci_ids(self) -> list[int]:
        return [ci for ids in self.by_kind.values() for ci in ids]

    def __len__(self) -> int:
        return sum(len(ids) for ids in self.by_kind.values())

    def ids_of(self, kind: str) -> list[int]:
        return list(self.by_kind.get(kind, []))


def parse_scope(scope: str) -> list[Term]:
    """The terms of ``scope`` (``[]`` for ``all``); :class:`ScopeError` for anything else."""
    text = (scope or "").strip()
    if len(text) > 200:
        raise ScopeError("A scope has at most 200 characters.")
    terms: list[Term] = []
    for word in _SPLIT.split(text):
        if not word or word == "all":
            continue
        key, sep, value = word.partition(":")
        if not sep:
            raise ScopeError(f"Term {word!r} has no 'key:'. {SCOPE_HELP}")
        if key not in LOOKUPS:
            known = ", ".join(k + ":" for k in LOOKUPS)
            raise ScopeError(f"Unknown scope term {key + ':'!r}; use all or one of {known}.")
        values = tuple(v for v in value.split(",") if v)
        if not values:
            raise ScopeError(f"Term {word!r} names no value.")
        if key == "ci" and not all(v.isdigit() for v in values):
            raise ScopeError(f"Term {word!r}: ci: takes registry ids (numbers).")
        terms.append(Term(key, values))
    return terms


def _has_field(model: type[Model], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def _service_stack(slugs: tuple[str, ...]) -> set[int]:
    """CI ids every named service depends on (the whole stack under it, through the services graph)."""
    if not apps.is_installed("cmdb.services"):
        return set()
    from cmdb.services.impact import dependencies_of
    from cmdb.services.models import Service

    roots = list(Service.objects.filter(slug__in=slugs).values_list("ci_id", flat=True))
    if not roots:
        return set()
    return {row["ci_id"] for row in dependencies_of(roots)["dependencies"]}


def _filter(model: type[Model], qs: QuerySet, term: Term, kind: str) -> QuerySet:
    if term.key == "ci":
        return qs.filter(ci_id__in=[int(v) for v in term.values])
    if term.key == "kind":
        return qs if kind in term.values else qs.none()
    if term.key == "service":
        return qs.filter(ci_id__in=_service_stack(term.values))
    lookup = LOOKUPS[term.key]
    assert lookup is not None
    if not _has_field(model, lookup.split("__")[0]):
        return qs.none()  # e.g. role: on a kind without roles
    return qs.filter(Q(**{lookup: list(term.values)}))


def resolve_scope(scope: str, kinds: tuple[str, ...] | list[str], *, user: Any = None,
                  action: str = "view") -> Selection:
    """The CIs of ``kinds`` that ``scope`` names and ``user`` may ``action`` (all when ``user`` is None).

    One query per kind (two with ``service:``), whatever the number of CIs."""
    from cmdb.users.permissions import grants_for, restrict

    terms = parse_scope(scope)
    wanted_kinds = {v for t in terms if t.key == "kind" for v in t.values}
    unknown = sorted(wanted_kinds - set(kinds))
    if unknown:
        raise ScopeError(f"kind: {', '.join(unknown)} is not managed by this reconciler; "
                         f"it manages {', '.join(kinds) or 'no CI kinds'}.")
    limited = user is not None and not grants_for(user).superuser
    selection = Selection(scope=scope)
    for kind in kinds:
        model = apps.get_model(kind)
        qs = model._default_manager.all()
        for term in terms:
            qs = _filter(model, qs, term, kind)
        if limited:
            qs = restrict(qs, user, action)
        ids = list(qs.order_by("name", "pk").values_list("ci_id", flat=True).distinct())
        if ids:
            selection.by_kind[kind] = [i for i in dict.fromkeys(ids) if i is not None]
    return selection


def scope_errors(scope: str, kinds: tuple[str, ...] | list[str], *, user: Any = None,
                 action: str = "view") -> str | None:
    """Why ``scope`` cannot be stored for a run (bad grammar, unknown kind, matches nothing), or None."""
    try:
        selection = resolve_scope(scope, kinds, user=user, action=action)
    except ScopeError as exc:
        return str(exc)
    if not len(selection):
        who = "" if user is None else (" that you may view" if action == "view" else " that you may change")
        return f"Scope {scope!r} matches no CI{who} (kinds: {', '.join(kinds)})."
    return None
