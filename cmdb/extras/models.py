"""Tags, custom fields and journal entries: the NetBox-style extras."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.validators import RegexValidator
from django.db import models, transaction

from cmdb.core.models.base import ChangeLoggedModel
from cmdb.core.scope import SHARED, via_target

color_validator = RegexValidator(r"^[0-9a-f]{6}$", "Enter a six-digit lower-case hex colour, e.g. 9e9e9e.")


class Tag(ChangeLoggedModel):
    """A label any object can carry; filters accept ``tag=<slug>``."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    color = models.CharField(max_length=6, default="9e9e9e", validators=[color_validator])
    description = models.CharField(max_length=200, blank=True)

    tenant_scope = SHARED
    search_fields = ("name", "slug", "description")

    class Meta:
        ordering = ("name",)


class CustomFieldType(models.TextChoices):
    TEXT = "text", "Text"
    LONGTEXT = "longtext", "Text (long)"
    INTEGER = "integer", "Integer"
    DECIMAL = "decimal", "Decimal"
    BOOLEAN = "boolean", "Boolean (true/false)"
    DATE = "date", "Date"
    URL = "url", "URL"
    JSON = "json", "JSON"
    SELECT = "select", "Selection"
    MULTISELECT = "multiselect", "Multiple selection"


class CustomField(ChangeLoggedModel):
    """A site-defined attribute, stored in each object's ``custom_field_data``
    JSON and validated against this definition on every write."""

    object_types = models.JSONField(default=list, help_text='Model labels, e.g. ["dcim.device"]')
    type = models.CharField(max_length=20, choices=CustomFieldType.choices, default=CustomFieldType.TEXT)
    name = models.CharField(
        max_length=50, unique=True,
        validators=[RegexValidator(r"^[a-z0-9_]+$", "Use lower-case letters, digits and underscores.")],
    )
    label = models.CharField(max_length=50, blank=True)
    description = models.CharField(max_length=200, blank=True)
    required = models.BooleanField(default=False)
    default = models.JSONField(null=True, blank=True)
    weight = models.PositiveSmallIntegerField(default=100)
    validation_minimum = models.BigIntegerField(null=True, blank=True)
    validation_maximum = models.BigIntegerField(null=True, blank=True)
    validation_regex = models.CharField(max_length=500, blank=True)
    choices = models.JSONField(default=list, blank=True)

    tenant_scope = SHARED
    search_fields = ("name", "label", "description")

    class Meta:
        ordering = ("weight", "name")

    @classmethod
    def post_create(cls, created: list[CustomField]) -> None:
        """Bulk creation (the API's path) sends no post_save: drop the cached definitions here."""
        from cmdb.extras.customfields import _clear

        _clear()
        transaction.on_commit(_clear)


class JournalKind(models.TextChoices):
    INFO = "info", "Info"
    SUCCESS = "success", "Success"
    WARNING = "warning", "Warning"
    DANGER = "danger", "Danger"


class JournalEntry(ChangeLoggedModel):
    """A dated note on any object (an incident, a hand-over, a decision)."""

    assigned_object_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    assigned_object_id = models.PositiveBigIntegerField()
    assigned_object = GenericForeignKey("assigned_object_type", "assigned_object_id")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=JournalKind.choices, default=JournalKind.INFO)
    comments = models.TextField()
    tags = models.ManyToManyField("extras.Tag", blank=True, related_name="+")
    custom_field_data = models.JSONField(default=dict, blank=True)

    display_field = "created"
    #: A note belongs to the object it is about: visible where that object is, written within its tenant.
    tenant_scope = via_target("assigned_object")
    #: Writing a note needs only sight of the object, not the right to change it.
    reference_actions = {"assigned_object": "view"}
    search_fields = ("comments",)

    class Meta:
        ordering = ("-created",)
        verbose_name_plural = "journal entries"
        indexes = [models.Index(fields=["assigned_object_type", "assigned_object_id"])]

    def __str__(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M} ({self.get_kind_display()})" if self.created else "journal entry"


from cmdb.extras.configcontexts import ConfigContext  # noqa: E402, F401  (re-exported; the model lives in its own module)
