from cmdb.api.filters import BaseFilterSet

from . import models


class TagFilterSet(BaseFilterSet):
    class Meta:
        model = models.Tag
        fields = ["name", "slug", "color", "description"]


class CustomFieldFilterSet(BaseFilterSet):
    class Meta:
        model = models.CustomField
        fields = ["name", "label", "type", "required", "weight", "description"]


class JournalEntryFilterSet(BaseFilterSet):
    class Meta:
        model = models.JournalEntry
        fields = ["assigned_object_type", "assigned_object_id", "created_by", "kind"]


class ConfigContextFilterSet(BaseFilterSet):
    class Meta:
        model = models.ConfigContext
        fields = ["name", "weight", "description", "is_active"]
