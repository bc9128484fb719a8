"""Whose is a row?  Every model's tenant scope, declared once and read by the permission gate.

:func:`cmdb.users.permissions.restrict` answers "which rows may this user see or change" for
every model alike, so each model has to say what tenant-limited grants mean for its rows.
A model declares exactly one of:

``tenant_path = "device__tenant"``
    the row belongs to the tenant reached by this ORM path (``"pk"`` on the tenant model itself);
``tenant_scope = SHARED``
    reference data that belongs to no tenant (manufacturers, roles, tags): readable under any
    view grant, writable only under an unconstrained grant;
``tenant_scope = ADMIN_ONLY``
    global data for administrators (permission grants, schedules, leases): superusers and
    unconstrained grants only, a tenant-limited grant gives nothing;
``tenant_scope = owned_by("user", tenant="tenant")``
    a user's own rows (their jobs, their tokens), plus, when a tenant path is given, the rows
    of the tenants the grant names;
``tenant_scope = via_target("assigned_object")``
    the row is about the target of its generic relation (a journal entry, a contact
    assignment): it is visible where the target is, and in the tenant of the target.

There is deliberately no default on the base models.  A concrete model that declares nothing
is reported by the system check ``cmdb.E101`` and by the scope walk test, and until it does
:func:`scope_of` treats it as admin-only, so a forgotten declaration can hide data but never
leak it.  Models of Django and third-party apps cannot carry our attribute; their scope is in
:data:`THIRD_PARTY_SCOPES` (``settings.CMDB_MODEL_SCOPES`` may add more, label -> scope).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from django.core import checks
from django.db import models

Kind = Literal["tenant", "shared", "admin", "owner", "target"]


@dataclass(frozen=True)
class Scope:
    """A model's answer to "whose is this row?"; build it with the helpers below."""

    kind: Kind
    #: ORM path to the owning tenant (``tenant`` and, optionally, ``owner`` scopes).
    tenant_path: str | None = None
    #: ORM path to the owning user (``owner`` scope); ``"pk"`` on the user model itself.
    owner_path: str | None = None
    #: Name of the generic foreign key whose target owns the row (``target`` scope).
    relation: str | None = None

    def __str__(self) -> str:
        if self.kind == "tenant":
            return f"tenant via {self.tenant_path}"
        if self.kind == "owner":
            extra = f", tenant via {self.tenant_path}" if self.tenant_path else ""
            return f"owned by {self.owner_path}{extra}"
        if self.kind == "target":
            return f"the target of {self.relation}"
        return {"shared": "shared reference data", "admin": "admin-only"}[self.kind]


SHARED = Scope("shared")
ADMIN_ONLY = Scope("admin")


def tenant_scoped(path: str) -> Scope:
    """The same as declaring ``tenant_path = path``."""
    return Scope("tenant", tenant_path=path)


def owned_by(owner_path: str, *, tenant: str | None = None) -> Scope:
    """Rows of one user (``owner_path`` leads to the user), optionally also of a tenant."""
    return Scope("owner", owner_path=owner_path, tenant_path=tenant)


def via_target(relation: str) -> Scope:
    """Rows that belong to whoever owns the target of the generic foreign key ``relation``."""
    return Scope("target", relation=relation)


#: Scopes of models we do not own (Django's and third-party apps'), by model label.
THIRD_PARTY_SCOPES: dict[str, Scope] = {
    # A user's own account is theirs (and a token form may name its own user); everyone else's
    # e-mail, flags and login times are for administrators.
    "auth.user": owned_by("pk"),
    "auth.group": ADMIN_ONLY,
    "auth.permission": ADMIN_ONLY,
    "admin.logentry": ADMIN_ONLY,
    "contenttypes.contenttype": SHARED,
    "sessions.session": ADMIN_ONLY,
    "django_tasks_database.dbtaskresult": ADMIN_ONLY,
    "django_rq.dashboard": ADMIN_ONLY,
    "otp_totp.totpdevice": ADMIN_ONLY,
    "otp_static.staticdevice": ADMIN_ONLY,
    "otp_static.statictoken": ADMIN_ONLY,
}


def declared_scope(model: type[models.Model]) -> Scope | None:
    """The scope ``model`` declares, or ``None`` if it declares none.

    The most derived class that sets ``tenant_scope`` or ``tenant_path`` decides, so a model
    can override what its base declares (an organizational model with a tenant, say).
    """
    for klass in model.__mro__:
        own = vars(klass)
        explicit = own.get("tenant_scope")
        if isinstance(explicit, Scope):
            return explicit
        path = own.get("tenant_path")
        if isinstance(path, str) and path:
            return tenant_scoped(path)
    from django.conf import settings

    label = model._meta.label_lower
    extra = getattr(settings, "CMDB_MODEL_SCOPES", None) or {}
    found = extra.get(label) or THIRD_PARTY_SCOPES.get(label)
    if found is None and model._meta.proxy and model._meta.concrete_model is not model:
        return declared_scope(model._meta.concrete_model)
    return found


def scope_of(model: type[models.Model]) -> Scope:
    """The scope the permission gate applies: the declared one, admin-only if there is none."""
    return declared_scope(model) or ADMIN_ONLY


def generic_relations(model: type[models.Model]) -> list[Any]:
    """The model's generic foreign keys (``GenericForeignKey`` instances)."""
    from django.contrib.contenttypes.fields import GenericForeignKey

    return [f for f in model._meta.private_fields if isinstance(f, GenericForeignKey)]


def _path_target(model: type[models.Model], path: str) -> type[models.Model] | None:
    """The model an ORM path of relations ends at (``device__tenant`` -> Tenant); None if it is not one."""
    if path == "pk":
        return model
    target: type[models.Model] = model
    for part in path.split("__"):
        try:
            f = target._meta.get_field(part)
        except Exception:  # FieldDoesNotExist, or a reverse accessor Django refuses
            return None
        if not f.is_relation or f.related_model is None:
            return None
        target = f.related_model
    return target


def scope_problems(model: type[models.Model]) -> list[str]:
    """What is wrong with ``model``'s declaration (empty when it is sound)."""
    from django.contrib.auth import get_user_model

    scope = declared_scope(model)
    label = model._meta.label_lower
    if scope is None:
        return [f"{label} declares no tenant scope: set tenant_path = '<path to the tenant>' or tenant_scope = "
                "SHARED, ADMIN_ONLY, owned_by(...) or via_target(...) (cmdb.core.scope), or add it to "
                "settings.CMDB_MODEL_SCOPES for a third-party model."]
    problems = []
    if scope.tenant_path is not None:
        target = _path_target(model, scope.tenant_path)
        if target is None or target._meta.label_lower != "tenancy.tenant":
            problems.append(f"{label}: tenant path {scope.tenant_path!r} does not lead to tenancy.Tenant.")
    if scope.kind == "owner":
        target = _path_target(model, scope.owner_path or "")
        if target is None or target is not get_user_model():
            problems.append(f"{label}: owner path {scope.owner_path!r} does not lead to the user model.")
    if scope.kind == "target" and scope.relation not in {g.name for g in generic_relations(model)}:
        problems.append(f"{label}: {scope.relation!r} is not a generic foreign key of the model.")
    return problems


@checks.register(checks.Tags.models)
def check_scopes(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """cmdb.E101: every concrete model declares a sound tenant scope."""
    from django.apps import apps

    errors = []
    for model in apps.get_models():
        if model._meta.abstract or model._meta.auto_created:
            continue
        if app_configs is not None and model._meta.app_config not in app_configs:
            continue
        for problem in scope_problems(model):
            errors.append(checks.Error(problem, obj=model, id="cmdb.E101"))
    return errors
