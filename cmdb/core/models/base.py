"""The stack of abstract base models every CMDB table builds on.

``ChangeLoggedModel``  timestamps; every save/delete is recorded in the change log.
``OrganizationalModel`` name + slug reference data (manufacturers, roles, ...).
``PrimaryModel``        real objects with description, comments, tags, custom fields.
``CIModel``             configuration items: also a row in the CI registry.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.db import models, transaction

from cmdb.core.choices import Criticality, LifecycleStatus
from cmdb.core.scope import SHARED, Scope


def json_value(value: Any) -> Any:
    """Turn a model field value into something JSON can carry, cheaply."""
    if value is None or isinstance(value, (str, int, float, bool, list, dict)):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    return str(value)


class ChangeLoggedModel(models.Model):
    """Anything whose history matters: created/updated stamps and change records."""

    created = models.DateTimeField(auto_now_add=True, null=True)
    last_updated = models.DateTimeField(auto_now=True, null=True)

    #: Attribute shown as ``display`` and used in nested representations.
    display_field: ClassVar[str] = "name"
    #: Whose rows these are, for the permission gate: every concrete model declares either
    #: ``tenant_path`` (ORM path to the owning tenant) or ``tenant_scope`` (``SHARED``,
    #: ``ADMIN_ONLY``, ``owned_by(...)``, ``via_target(...)``); see :mod:`cmdb.core.scope`.
    #: No default on purpose: a model that forgets fails the ``cmdb.E101`` check.
    tenant_path: ClassVar[str]
    tenant_scope: ClassVar[Scope]
    #: Fields searched by the free-text ``q`` filter and global search.
    search_fields: ClassVar[tuple[str, ...]] = ("name",)
    #: Excluded from change-log snapshots (derived or noisy columns).
    snapshot_exclude: ClassVar[frozenset[str]] = frozenset({"created", "last_updated"})

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return str(getattr(self, self.display_field, None) or f"{self._meta.verbose_name} {self.pk}")

    def snapshot(self, tags: list[str] | None = None) -> dict[str, Any]:
        """A JSON-ready dict of the concrete fields, for before/after in the change log."""
        data: dict[str, Any] = {}
        for f in self._meta.concrete_fields:
            if f.name in self.snapshot_exclude or f.name == "id":
                continue
            data[f.name] = json_value(getattr(self, f.attname))
        if "custom_field_data" in data:
            data["custom_fields"] = data.pop("custom_field_data")
        # On the class: on an instance, hasattr builds a related manager (~20 µs per object).
        if hasattr(type(self), "tags") and self.pk:
            if tags is None:
                tags = sorted(t.slug for t in self.tags.all())
            data["tags"] = tags
        return data

    def validated_save(self) -> None:
        """full_clean then save: the one way services persist a single object."""
        self.full_clean()
        self.save()


class TaggedModel(models.Model):
    tags = models.ManyToManyField("extras.Tag", blank=True, related_name="+")
    custom_field_data = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True

    def clean(self) -> None:
        super().clean()
        from cmdb.extras.customfields import validate_custom_fields

        self.custom_field_data = validate_custom_fields(type(self), self.custom_field_data or {})


class OrganizationalModel(ChangeLoggedModel, TaggedModel):
    """Name-and-slug reference data shared by all tenants."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=200, blank=True)

    tenant_scope = SHARED
    search_fields = ("name", "slug", "description")

    class Meta:
        abstract = True
        ordering = ("name",)


class PrimaryModel(ChangeLoggedModel, TaggedModel):
    description = models.CharField(max_length=200, blank=True)
    comments = models.TextField(blank=True)

    class Meta:
        abstract = True


class CIModel(PrimaryModel):
    """A configuration item: a typed table that also owns one CI registry row.

    The typed row is authoritative; the registry row is a projection written
    in the same transaction by :meth:`save` and by the bulk services, so that
    relationships, impact analysis, metrics and search can treat every kind of
    CI alike with one integer id and one table.
    """

    ci = models.OneToOneField(
        "core.ConfigurationItem", on_delete=models.CASCADE, related_name="+", editable=False, null=True
    )
    status = models.CharField(max_length=20, choices=LifecycleStatus.choices, default=LifecycleStatus.ACTIVE)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    criticality = models.CharField(max_length=10, choices=Criticality.choices, default=Criticality.MEDIUM)
    owner = models.ForeignKey("tenancy.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    last_seen = models.DateTimeField(null=True, blank=True)

    tenant_path = "tenant"
    snapshot_exclude = frozenset({"created", "last_updated", "ci"})
    #: Registry columns mirrored from the typed row.
    REGISTRY_FIELDS: ClassVar[tuple[str, ...]] = (
        "name", "status", "tenant_id", "criticality", "owner_id", "last_seen", "description",
    )

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        from cmdb.core.models.registry import ConfigurationItem

        with transaction.atomic():
            if self.ci_id is None:
                self.ci = ConfigurationItem.objects.create(kind=self.ci_kind(), **self.registry_values())
            else:
                ConfigurationItem.objects.filter(pk=self.ci_id).update(**self.registry_values())
            super().save(*args, **kwargs)

    @classmethod
    def ci_kind(cls) -> str:
        return cls._meta.label_lower

    def registry_values(self) -> dict[str, Any]:
        values = {f: getattr(self, f) for f in self.REGISTRY_FIELDS}
        values["name"] = (values["name"] or "")[:255]
        return values


def validate_not_self_parent(obj: models.Model, field: str = "parent") -> None:
    """Reject a tree node that is its own ancestor."""
    seen = {obj.pk}
    node = getattr(obj, field)
    while node is not None:
        if node.pk in seen:
            raise ValidationError({field: "A node cannot be its own ancestor."})
        seen.add(node.pk)
        node = getattr(node, field)
