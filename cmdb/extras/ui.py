"""Web-UI pages for tags, custom fields and journal entries."""

from cmdb.ui.registry import register

from . import filtersets, models

register(models.Tag, filterset=filtersets.TagFilterSet, columns=["name", "slug", "color", "description"])
register(models.CustomField, filterset=filtersets.CustomFieldFilterSet,
         columns=["name", "label", "type", "required", "weight", "description"])
register(models.JournalEntry, filterset=filtersets.JournalEntryFilterSet, read_only=True,
         columns=["id", "created", "assigned_object_type", "assigned_object_id", "kind", "created_by",
                  "comments"])
