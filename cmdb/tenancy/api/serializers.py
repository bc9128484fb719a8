from typing import Any

from cmdb.api.fields import ContentTypeField, brief_related
from cmdb.api.serializers import TaggedModelSerializer

from .. import models

STAMPS = ["tags", "custom_fields", "created", "last_updated"]


class TenantGroupSerializer(TaggedModelSerializer):
    class Meta:
        model = models.TenantGroup
        fields = ["id", "url", "display", "name", "slug", "parent", "description", *STAMPS]
        brief_fields = ["id", "url", "display", "name", "slug", "description"]


class TenantSerializer(TaggedModelSerializer):
    class Meta:
        model = models.Tenant
        fields = ["id", "url", "display", "name", "slug", "group", "description", "comments", *STAMPS]
        brief_fields = ["id", "url", "display", "name", "slug", "description"]


class ContactRoleSerializer(TaggedModelSerializer):
    class Meta:
        model = models.ContactRole
        fields = ["id", "url", "display", "name", "slug", "description", *STAMPS]
        brief_fields = ["id", "url", "display", "name", "slug", "description"]


class ContactSerializer(TaggedModelSerializer):
    class Meta:
        model = models.Contact
        fields = ["id", "url", "display", "name", "title", "phone", "email", "address", "link", "tenant",
                  "description", "comments", *STAMPS]
        brief_fields = ["id", "url", "display", "name", "description"]


class ContactAssignmentSerializer(TaggedModelSerializer):
    object_type = ContentTypeField()
    fast_read = False  # the generic ``object`` needs the instance

    class Meta:
        model = models.ContactAssignment
        fields = ["id", "url", "display", "object_type", "object_id", "contact", "role", "priority", *STAMPS]
        brief_fields = ["id", "url", "display", "contact", "role", "priority"]

    def to_representation(self, instance: Any) -> Any:
        data = super().to_representation(instance)
        target = instance.object
        if target is not None:
            data["object"] = brief_related(target, self.context.get("request"))
        return data
