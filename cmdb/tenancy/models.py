"""Tenants (faculties, departments) and the people responsible for things."""

from __future__ import annotations

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models

from cmdb.core.models.base import ChangeLoggedModel, OrganizationalModel, PrimaryModel, validate_not_self_parent
from cmdb.core.scope import via_target


class TenantGroup(OrganizationalModel):
    """Groups tenants, e.g. "Faculties" or "Administration"; may nest."""

    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="children")

    def clean(self) -> None:
        super().clean()
        validate_not_self_parent(self)


class Tenant(PrimaryModel):
    """An organisational unit that owns CIs; the unit of permission scoping."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    group = models.ForeignKey(TenantGroup, on_delete=models.SET_NULL, null=True, blank=True, related_name="tenants")

    tenant_path = "pk"
    search_fields = ("name", "slug", "description")

    class Meta:
        ordering = ("name",)


class ContactRole(OrganizationalModel):
    """What a contact is for an object: owner, technical contact, ..."""


class Contact(PrimaryModel):
    """A person or team to call, notify or hold responsible."""

    name = models.CharField(max_length=100)
    title = models.CharField(max_length=100, blank=True)
    phone = models.CharField(max_length=50, blank=True)
    email = models.EmailField(blank=True)
    address = models.CharField(max_length=200, blank=True)
    link = models.URLField(blank=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.SET_NULL, null=True, blank=True, related_name="contacts")

    tenant_path = "tenant"
    search_fields = ("name", "email", "phone", "title")

    class Meta:
        ordering = ("name",)
        constraints = [models.UniqueConstraint(fields=["name", "email"], name="tenancy_contact_unique_name_email")]


class ContactPriority(models.TextChoices):
    PRIMARY = "primary", "Primary"
    SECONDARY = "secondary", "Secondary"
    TERTIARY = "tertiary", "Tertiary"
    INACTIVE = "inactive", "Inactive"


class ContactAssignment(ChangeLoggedModel):
    """Links a contact in a role to any object (a tenant, a device, a service)."""

    object_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.PositiveBigIntegerField()
    object = GenericForeignKey("object_type", "object_id")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="assignments")
    role = models.ForeignKey(ContactRole, on_delete=models.PROTECT, related_name="assignments")
    priority = models.CharField(max_length=20, choices=ContactPriority.choices, blank=True)
    tags = models.ManyToManyField("extras.Tag", blank=True, related_name="+")
    custom_field_data = models.JSONField(default=dict, blank=True)

    display_field = "contact"
    #: An assignment is about its object (who owns this server?): it lives in the object's tenant and
    #: is seen where the object is; the contact itself must be one the writer may refer to.
    tenant_scope = via_target("object")
    search_fields = ("contact__name", "contact__email", "role__name")

    class Meta:
        ordering = ("priority", "contact")
        constraints = [
            models.UniqueConstraint(
                fields=["object_type", "object_id", "contact", "role"], name="tenancy_contactassignment_unique"
            )
        ]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.contact} ({self.role})" if self.contact_id and self.role_id else "contact assignment"
