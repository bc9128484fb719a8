from rest_framework import serializers

from cmdb.api.fields import ChoiceField, ContentTypeField
from cmdb.api.serializers import BaseModelSerializer

from ..choices import ChangeAction
from ..models import ConfigurationItem, ObjectChange


class ObjectChangeSerializer(BaseModelSerializer):
    action = ChoiceField(choices=ChangeAction.choices, read_only=True)
    changed_object_type = ContentTypeField(read_only=True)
    related_object_type = ContentTypeField(read_only=True)
    user = serializers.SerializerMethodField()
    fast_computed = {
        "user": (("user_id", "user__username"),
                 lambda v, c: {"id": v[0], "url": f"{c.base_url}/api/users/users/{v[0]}/", "display": v[1],
                               "username": v[1]} if v[0] else None),
    }

    class Meta:
        model = ObjectChange
        fields = ["id", "url", "display", "time", "user", "user_name", "request_id", "source", "action",
                  "changed_object_type", "changed_object_id", "related_object_type", "related_object_id",
                  "object_repr", "prechange_data", "postchange_data", "chain_hash", "prev_hash", "erased",
                  "key_version"]
        brief_fields = ["id", "url", "display", "time", "action", "changed_object_type", "changed_object_id"]
        read_only_fields = fields

    def get_user(self, obj: ObjectChange) -> object:
        return {"id": obj.user_id, "username": obj.user.username} if obj.user_id else None


class ConfigurationItemSerializer(BaseModelSerializer):
    class Meta:
        model = ConfigurationItem
        fields = ["id", "url", "display", "kind", "name", "status", "tenant", "criticality", "owner", "last_seen",
                  "description"]
        brief_fields = ["id", "url", "display", "kind", "name"]
        read_only_fields = fields
