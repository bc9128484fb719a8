"""API tokens and object permissions."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from cmdb.core.models.base import ChangeLoggedModel
from cmdb.core.scope import ADMIN_ONLY, owned_by

from .networks import address_in_networks, parse_network


def hash_key(key: str) -> str:
    """SHA-256 of a token key.

    Keys are 160 random bits, so a fast hash is enough to make a stolen
    database useless; a slow password hash would only slow every API call.
    """
    return hashlib.sha256(key.encode()).hexdigest()


def validate_networks(value: list[str]) -> None:
    if not isinstance(value, list):
        raise ValidationError("Give a list of networks, e.g. [\"10.0.0.0/8\"].")
    for net in value:
        if not isinstance(net, str):
            raise ValidationError(f"{net!r} is not a network; give each one as a string, e.g. \"10.0.0.0/8\".")
        try:
            parse_network(net)
        except ValueError as exc:
            raise ValidationError(f"{net!r} is not a network.") from exc


def validate_future(value: dt.datetime | None) -> None:
    """A new or changed expiry must lie ahead: a token born expired is a mistake, never an intent."""
    if value is not None and value <= timezone.now():
        raise ValidationError("The expiry must lie in the future.")


class Token(ChangeLoggedModel):
    """An API token: only its hash is stored; the key is shown once at creation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(max_length=8, editable=False, help_text="First characters, to recognise a token")
    expires = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)
    write_enabled = models.BooleanField(default=False)
    description = models.CharField(max_length=200, blank=True)
    allowed_ips = models.JSONField(default=list, blank=True, validators=[validate_networks])

    display_field = "key_prefix"
    tenant_scope = owned_by("user")
    search_fields = ("description", "key_prefix")
    snapshot_exclude = frozenset({"created", "last_updated", "last_used", "key_digest"})

    class Meta:
        ordering = ("-created",)

    def __str__(self) -> str:
        return f"{self.key_prefix}…"

    @staticmethod
    def generate_key() -> str:
        return secrets.token_hex(20)

    def set_key(self, key: str) -> None:
        self.key_digest = hash_key(key)
        self.key_prefix = key[:8]

    @property
    def is_expired(self) -> bool:
        return self.expires is not None and self.expires <= timezone.now()

    def allows_address(self, address: str | None) -> bool:
        """No networks: any address; else the client must lie in one (IPv4-mapped IPv6 counts as IPv4)."""
        return not self.allowed_ips or address_in_networks(address, self.allowed_ips)


class Action(models.TextChoices):
    VIEW = "view", "View"
    ADD = "add", "Add"
    CHANGE = "change", "Change"
    DELETE = "delete", "Delete"


class ObjectPermission(ChangeLoggedModel):
    """Grants actions on object types to users and groups, optionally only
    for objects of some tenants (a faculty's admins and their CIs)."""

    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True)
    object_types = models.JSONField(help_text='Model labels, e.g. ["dcim.device", "dcim.interface"]; "*" for all')
    actions = models.JSONField(help_text='Any of "view", "add", "change", "delete"')
    tenants = models.ManyToManyField("tenancy.Tenant", blank=True, related_name="+")
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="object_permissions")
    groups = models.ManyToManyField(Group, blank=True, related_name="object_permissions")

    #: Grants decide what everyone may do: only administrators read or write them.
    tenant_scope = ADMIN_ONLY
    search_fields = ("name", "description")

    class Meta:
        ordering = ("name",)

    def clean(self) -> None:
        super().clean()
        errors = {}
        problem = actions_problem(self.actions)
        if problem:
            errors["actions"] = problem
        problem = object_types_problem(self.object_types)
        if problem:
            errors["object_types"] = problem
        if errors:
            raise ValidationError(errors)


def actions_problem(value: object) -> str | None:
    """Why ``value`` is not a non-empty list of known action names (None if it is)."""
    valid = list(Action.values)
    if not isinstance(value, list) or not value or not all(isinstance(a, str) for a in value):
        return f"Give a non-empty list of action names: {', '.join(valid)}."
    unknown = [a for a in value if a not in valid]
    if unknown:
        return f"Unknown action {unknown[0][:50]!r}; use {', '.join(valid)}."
    return None


def object_types_problem(value: object) -> str | None:
    """Why ``value`` is not a non-empty list of model labels (``dcim.device``) or ``"*"`` (None if it is)."""
    from django.apps import apps

    if not isinstance(value, list) or not value or not all(isinstance(t, str) for t in value):
        return 'Give a non-empty list of model labels, e.g. ["dcim.device"], or ["*"] for every type.'
    for label in value:
        if label == "*":
            continue
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            model = None
        if model is None or model._meta.label_lower != label:
            return f"Unknown object type {label[:100]!r}; use lower-case app_label.model, e.g. dcim.device."
    return None


class LDAPGroupMapping(ChangeLoggedModel):
    """Members of a directory group (by DN) belong to a local group, whose grants they then hold.

    Campus logins (:mod:`cmdb.users.ldapbackend`) read a user's LDAP groups at every login and
    :mod:`cmdb.users.directory` sets their local groups from these rows: ``cn=physics-admins,…``
    → the local group "physics-admins", whose :class:`ObjectPermission` rows may be limited to
    the physics faculty's tenant.  Data rather than settings, so that faculties are added
    without a restart and every change of who-gets-what is in the change log.
    """

    dn = models.CharField(max_length=500, verbose_name="LDAP group DN",
                          help_text="e.g. cn=physics-admins,ou=groups,dc=uni,dc=example (case does not matter)")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="ldap_mappings")
    description = models.CharField(max_length=200, blank=True)

    display_field = "dn"
    #: Who-gets-which-grants, like the grants themselves: administrators only.
    tenant_scope = ADMIN_ONLY
    search_fields = ("dn", "description")

    class Meta:
        ordering = ("dn",)
        verbose_name = "LDAP group mapping"
        constraints = [models.UniqueConstraint(fields=["dn", "group"], name="users_ldapgroupmapping_dn_group")]

    def clean(self) -> None:
        super().clean()
        from .directory import normalise_dn

        try:
            self.dn = normalise_dn(self.dn)
        except ValueError as exc:
            raise ValidationError({"dn": str(exc)}) from exc

    def save(self, *args: Any, **kwargs: Any) -> None:
        from .directory import normalise_dn

        # An invalid DN is clean()'s to report; stored as given, it matches nothing.
        with contextlib.suppress(ValueError):
            self.dn = normalise_dn(self.dn)
        super().save(*args, **kwargs)


class DirectoryAccount(models.Model):
    """Marks a local user as the CMDB's copy of a directory (LDAP) account, and what the directory said.

    Only users with this row are ever logged in through LDAP: a local account whose name
    happens to exist in the directory too is never taken over (an LDAP user called "admin"
    does not become the local administrator).  ``group_dns`` are the user's LDAP groups at
    the last login or sync, so that a changed :class:`LDAPGroupMapping` applies at once;
    ``granted`` are the local groups the directory gave, so that only those are taken away.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="directory_account")
    dn = models.CharField(max_length=500)
    group_dns = models.JSONField(default=list, blank=True)
    granted = models.ManyToManyField(Group, blank=True, related_name="+")
    synced = models.DateTimeField(help_text="When the directory was last read for this account")
    #: Set when a sync found the account gone from the directory (or outside the allowed groups) and
    #: deactivated it; only such a deactivation is undone by the directory, never an administrator's.
    suspended = models.DateTimeField(null=True, blank=True)

    tenant_scope = owned_by("user")

    class Meta:
        ordering = ("user__username",)

    def __str__(self) -> str:
        return self.dn
