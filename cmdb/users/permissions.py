"""Object permissions, enforced in one place.

``restrict(queryset, user, action)`` is the single gate that the API, search, export, the
web UI and the write services all call: it returns only the rows the user may see or act on.
A permission grants actions on model labels, optionally only for some tenants.  What a
tenant-limited grant means for a model's rows is the model's declared scope
(:mod:`cmdb.core.scope`):

* a tenant path: the rows of those tenants;
* shared reference data: every row to view, none to write;
* admin-only: nothing (only superusers and unconstrained grants reach these rows);
* owned by a user: the user's own rows, plus those of the tenants when the model has a tenant;
* about a generic target (journal entries, contact assignments): the rows whose target lies
  in those tenants, judged by the target model's own scope.

An unconstrained grant gives every row, except that a row about a generic target is only
shown where the user may also see the target, so no answer ever names an object the user
could not look up.  References a write sets (foreign keys, generic relations) go through
:func:`reference_queryset`, rendered references through the same function with ``view``.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from typing import Any

from django.db.models import Model, Q, QuerySet
from rest_framework import permissions

from cmdb.core.scope import Scope, generic_relations, scope_of

ALL = None  # marker: unconstrained
#: "No row qualifies"; compared by identity.
NOTHING = Q(pk__in=[])
#: How deep generic targets are followed (a note on a contact assignment on a device ...).
_MAX_DEPTH = 2


class Grants:
    """The user's permissions, loaded once per request with two queries."""

    def __init__(self, user: Any) -> None:
        from .models import ObjectPermission

        self.superuser = bool(getattr(user, "is_superuser", False) and user.is_active)
        # (label, action) -> None (unconstrained) or set of tenant ids
        self.grants: dict[tuple[str, str], set[int] | None] = {}
        if self.superuser or not getattr(user, "is_authenticated", False) or not user.is_active:
            return
        perms = list(
            ObjectPermission.objects.filter(enabled=True)
            .filter(Q(users=user) | Q(groups__user=user))
            .distinct()
        )
        tenants: dict[int, set[int]] = defaultdict(set)
        through = ObjectPermission.tenants.through
        for perm_id, tenant_id in through.objects.filter(objectpermission_id__in=[p.pk for p in perms]).values_list(
            "objectpermission_id", "tenant_id"
        ):
            tenants[perm_id].add(tenant_id)
        for perm in perms:
            scope = tenants.get(perm.pk)
            # Rows written before validation was strict may hold anything: only strings count.
            for label in _strings(perm.object_types):
                for action in _strings(perm.actions):
                    key = (label, action)
                    if key in self.grants and self.grants[key] is ALL:
                        continue
                    if scope is None:
                        self.grants[key] = ALL
                    else:
                        self.grants[key] = (self.grants.get(key) or set()) | scope

    def lookup(self, label: str, action: str) -> tuple[bool, set[int] | None]:
        """(granted?, tenant ids or None for all)."""
        if self.superuser:
            return True, ALL
        for key in ((label, action), ("*", action)):
            if key in self.grants:
                return True, self.grants[key]
        return False, ALL

    def sole_tenant(self) -> int | None:
        """The one tenant that every grant of a tenant-limited user names; None otherwise."""
        if self.superuser or not self.grants:
            return None
        found: set[int] = set()
        for tenants in self.grants.values():
            if tenants is ALL:
                return None
            found |= tenants
        return next(iter(found)) if len(found) == 1 else None


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def grants_for(user: Any) -> Grants:
    cached = getattr(user, "_cmdb_grants", None)
    if cached is None:
        cached = Grants(user)
        with contextlib.suppress(AttributeError):
            user._cmdb_grants = cached
    return cached


def sole_tenant(user: Any) -> int | None:
    """The tenant a job or run started by ``user`` belongs to (see :meth:`Grants.sole_tenant`)."""
    return grants_for(user).sole_tenant() if user is not None else None


def has_action(user: Any, model: type[Model], action: str) -> bool:
    """Whether ``user`` may ``action`` some rows of ``model`` at all (the API's and UI's first check)."""
    grants = grants_for(user)
    granted, tenants = grants.lookup(model._meta.label_lower, action)
    if not granted:
        return False
    if grants.superuser or tenants is ALL:
        return True
    kind = scope_of(model).kind
    if kind == "shared":
        return action == "view"
    return kind != "admin"


# --- row filters --------------------------------------------------------------------------------------------


def _tenant_q(path: str, tenants: set[int]) -> Q:
    return Q(pk__in=tenants) if path == "pk" else Q(**{f"{path}__in": tenants})


def _owner_q(path: str, user: Any) -> Q:
    return Q(pk=user.pk) if path == "pk" else Q(**{path: user.pk})


def _and(*parts: Q | None) -> Q | None:
    """Conjunction where ``None`` is "every row" and :data:`NOTHING` absorbs."""
    found = [p for p in parts if p is not None]
    if any(p is NOTHING for p in found):
        return NOTHING
    if not found:
        return None
    q = found[0]
    for p in found[1:]:
        q = q & p
    return q


def _scope_filter(model: type[Model], scope: Scope, user: Any, action: str, tenants: set[int] | None,
                  base: QuerySet | None, depth: int) -> Q | None:
    """The rows of ``model`` a grant with ``tenants`` (or ALL) covers for ``action``."""
    if scope.kind == "target":
        return _target_filter(model, scope, user, action, tenants, base, depth)
    if tenants is ALL:
        return None
    if scope.kind == "tenant":
        return _tenant_q(scope.tenant_path or "", tenants)
    if scope.kind == "shared":
        return None if action == "view" else NOTHING
    if scope.kind == "owner":
        q = _owner_q(scope.owner_path or "", user)
        return q | _tenant_q(scope.tenant_path, tenants) if scope.tenant_path else q
    return NOTHING  # admin-only


def _target_filter(model: type[Model], scope: Scope, user: Any, action: str, tenants: set[int] | None,
                   base: QuerySet | None, depth: int) -> Q:
    """Rows whose generic target is within ``tenants`` (by the target's scope) and visible to the user.

    One query finds the target types in use; each becomes one branch of the filter.
    """
    from django.contrib.contenttypes.models import ContentType

    if depth >= _MAX_DEPTH:
        return NOTHING
    gfk = next(g for g in generic_relations(model) if g.name == scope.relation)
    ct_column = model._meta.get_field(gfk.ct_field).attname
    source = base if base is not None else model._base_manager.all()
    q = NOTHING
    for ct_id in sorted(set(source.order_by().values_list(ct_column, flat=True).distinct())):
        target = ContentType.objects.get_for_id(ct_id).model_class()
        if target is None:
            continue
        within = _scope_filter(target, scope_of(target), user, action, tenants, None, depth + 1)
        seen = _rows(target, user, "view", None, depth + 1)
        condition = _and(within, seen)
        if condition is NOTHING:
            continue
        branch = Q(**{ct_column: ct_id})
        if condition is not None:
            branch &= Q(**{f"{gfk.fk_field}__in": target._base_manager.filter(condition).values("pk")})
        q = branch if q is NOTHING else q | branch
    return q


def _rows(model: type[Model], user: Any, action: str, base: QuerySet | None, depth: int) -> Q | None:
    grants = grants_for(user)
    granted, tenants = grants.lookup(model._meta.label_lower, action)
    if not granted:
        return NOTHING
    if grants.superuser:
        return None
    return _scope_filter(model, scope_of(model), user, action, tenants, base, depth)


def rows_filter(model: type[Model], user: Any, action: str = "view") -> Q | None:
    """The filter :func:`restrict` applies: ``None`` for every row, :data:`NOTHING` for none."""
    return _rows(model, user, action, None, 0)


def restrict(queryset: QuerySet, user: Any, action: str = "view") -> QuerySet:
    """Only the rows of ``queryset`` that ``user`` may perform ``action`` on."""
    q = _rows(queryset.model, user, action, queryset, 0)
    if q is None:
        return queryset
    if q is NOTHING:
        return queryset.none()
    return queryset.filter(q)


def unrestricted(user: Any, model: type[Model], action: str) -> bool:
    """Whether :func:`restrict` keeps every row of any ``model`` queryset for ``user`` and ``action``.

    For hot paths that would otherwise spend a query on a scope check that cannot refuse anything
    (a superuser's or an unconstrained grant's discovery ingest); decided from the same lookup.
    """
    return rows_filter(model, user, action) is None


# --- references ---------------------------------------------------------------------------------------------


def reference_action(model: type[Model], field: str | None) -> str | None:
    """The action a user needs on the target of ``model.field`` when that is stricter than referring.

    Generic relations attach the row to their target (an address to an interface, a contact to a
    server), so their target must be one the writer may change unless the model declares a
    weaker need in ``reference_actions`` (a journal note needs only sight of its object).
    """
    if field is None:
        return None
    declared = getattr(model, "reference_actions", {}) or {}
    if field in declared:
        return declared[field]
    return "change" if field in {g.name for g in generic_relations(model)} else None


def reference_queryset(queryset: QuerySet, user: Any, written: type[Model], action: str,
                       field: str | None = None) -> QuerySet:
    """Objects that a write of ``written`` objects may refer to (a device's rack, tenant, ...).

    Under a tenant-limited grant for the write, tenant-owned objects must belong to one of
    those tenants; untenanted objects (a shared site or rack) and reference data stay
    available.  This keeps a faculty admin from attaching a CI to another faculty's objects
    without requiring separate view grants on every related model.  Admin-only, owned and
    generic-target objects are referable where the user may see them (their own account, say).
    A field named in :func:`reference_action` needs that action on the target instead.

    With ``action="view"`` the same rule decides which referenced objects a rendered row may name.
    """
    needed = reference_action(written, field)
    if needed is not None:
        return restrict(queryset, user, needed)
    grants = grants_for(user)
    granted, tenants = grants.lookup(written._meta.label_lower, action)
    if grants.superuser or not granted or tenants is ALL:
        return queryset
    model = queryset.model
    scope = scope_of(model)
    if scope.kind == "shared":
        return queryset
    if scope.kind == "tenant":
        path = scope.tenant_path or ""
        if path == "pk":
            return queryset.filter(pk__in=tenants)
        return queryset.filter(Q(**{f"{path}__in": tenants}) | Q(**{f"{path}__isnull": True}))
    seen = _rows(model, user, "view", queryset, 0)
    if scope.kind == "owner":
        own = _owner_q(scope.owner_path or "", user)
        seen = None if seen is None else own if seen is NOTHING else own | seen
    if seen is None:
        return queryset
    return queryset.none() if seen is NOTHING else queryset.filter(seen)


def referable_ids(model: type[Model], ids: set[Any], user: Any, written: type[Model], action: str,
                  field: str | None = None) -> set[Any]:
    """Which of ``ids`` (primary keys of ``model``) a write or rendering of ``written`` may name; one query."""
    if not ids:
        return set()
    base = model._base_manager.filter(pk__in=ids)
    narrowed = reference_queryset(base, user, written, action, field)
    if narrowed is base:
        return set(ids)
    return set(narrowed.values_list("pk", flat=True))


_ACTION_BY_METHOD = {"GET": "view", "HEAD": "view", "OPTIONS": "view", "POST": "add", "PUT": "change",
                     "PATCH": "change", "DELETE": "delete"}


class ObjectPermissionRequired(permissions.BasePermission):
    """Authenticated users only; read-only tokens cannot write; per-model action grants.

    Row-level (tenant) checks happen in the viewsets through :func:`restrict`.
    """

    message = "You do not have permission to perform this action."

    def has_permission(self, request: Any, view: Any) -> bool:

        from .models import Token

        user = request.user
        if not getattr(user, "is_authenticated", False):
            return False
        read_only_token = isinstance(request.auth, Token) and not request.auth.write_enabled
        if request.method not in permissions.SAFE_METHODS and read_only_token:
            self.message = "This token is read-only."
            return False
        model = getattr(getattr(view, "queryset", None), "model", None)
        if model is None:
            return True
        action = getattr(view, "required_action", None) or _ACTION_BY_METHOD.get(request.method, "view")
        if has_action(user, model, action):
            return True
        # A user with view rights may OPTIONS; a write request gets a precise message.
        self.message = f"You may not {action} {model._meta.verbose_name_plural}."
        return False
