from cmdb.api.filters import BaseFilterSet

from .models import ConfigurationItem, ObjectChange


class ObjectChangeFilterSet(BaseFilterSet):
    class Meta:
        model = ObjectChange
        fields = ["time", "user", "user_name", "request_id", "source", "action", "changed_object_type",
                  "changed_object_id", "related_object_type", "related_object_id", "object_repr"]


class ConfigurationItemFilterSet(BaseFilterSet):
    class Meta:
        model = ConfigurationItem
        fields = ["kind", "name", "status", "tenant", "criticality", "owner", "last_seen", "description"]
