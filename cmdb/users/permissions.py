"""Object permissions, enforced in one place.

``restrict(queryset, user, action)`` is the single gate that the API, search,
export and the web UI all call: it returns only what the user may see or act
on.  A permission grants actions on model labels; if it names tenants, only
objects whose tenant (found through the model's ``tenant_path``) is one of
them qualify.  Shared reference data (``tenant_path = None``, e.g.
manufacturers) is visible under a tenant-constrained permission but not
writable through one.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from typing import Any

from django.db.models import Model, Q, QuerySet
from rest_framework import permissions

ALL = None  # marker: unconstrained


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
            for label in perm.object_types:
                for action in perm.actions:
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


def grants_for(user: Any) -> Grants:
    cached = getattr(user, "_cmdb_grants", None)
    if cached is None:
        cached = Grants(user)
        with contextlib.suppress(AttributeError):
            user._cmdb_grants = cached
    return cached


def has_action(user: Any, model: type[Model], action: str) -> bool:
    granted, tenants = grants_for(user).lookup(model._meta.label_lower, action)
    if not granted:
        return False
    return not (tenants is not ALL and action != "view" and model.tenant_path is None)  # type: ignore[attr-defined]


def restrict(queryset: QuerySet, user: Any, action: str = "view") -> QuerySet:
    """Only the rows of ``queryset`` that ``user`` may perform ``action`` on."""
    model = queryset.model
    granted, tenants = grants_for(user).lookup(model._meta.label_lower, action)
    if not granted:
        return queryset.none()
    if tenants is ALL:
        return queryset
    path = getattr(model, "tenant_path", None)
    if path is None:
        return queryset if action == "view" else queryset.none()
    return queryset.filter(**{f"{path}__in": tenants})


def unrestricted(user: Any, model: type[Model], action: str) -> bool:
    """Whether :func:`restrict` keeps every row of any ``model`` queryset for ``user`` and ``action``.

    For hot paths that would otherwise spend a query on a scope check that cannot refuse anything
    (a superuser's or an unconstrained grant's discovery ingest); decided from the same lookup.
    """
    granted, tenants = grants_for(user).lookup(model._meta.label_lower, action)
    return granted and tenants is ALL


def reference_queryset(queryset: QuerySet, user: Any, written: type[Model], action: str) -> QuerySet:
    """Objects that a write of ``written`` objects may refer to (a device's rack, tenant, ...).

    Under a tenant-limited grant for the write, tenant-owned objects must belong to one of
    those tenants; untenanted objects (a shared site or rack) and reference data stay
    available.  This keeps a faculty admin from attaching a CI to another faculty's objects
    without requiring separate view grants on every related model.
    """
    granted, tenants = grants_for(user).lookup(written._meta.label_lower, action)
    if not granted or tenants is ALL:
        return queryset
    path = getattr(queryset.model, "tenant_path", None)
    if path is None:
        return queryset
    if path == "pk":
        return queryset.filter(pk__in=tenants)
    return queryset.filter(Q(**{f"{path}__in": tenants}) | Q(**{f"{path}__isnull": True}))


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
