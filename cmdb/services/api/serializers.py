from rest_framework import serializers

from cmdb.api.serializers import BaseModelSerializer, TaggedModelSerializer

from .. import models

STAMPS = ["tags", "custom_fields", "created", "last_updated"]
CI_FIELDS = ["status", "tenant", "criticality", "owner", "last_seen", "ci_id"]


class ServiceSerializer(TaggedModelSerializer):
    ci_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = models.Service
        fields = ["id", "url", "display", "name", "slug", "service_type", "sla_availability", "support_hours",
                  "link", "description", "comments", *CI_FIELDS, *STAMPS]
        brief_fields = ["id", "url", "display", "name", "slug"]


class RelationshipTypeSerializer(TaggedModelSerializer):
    class Meta:
        model = models.RelationshipType
        fields = ["id", "url", "display", "name", "slug", "inverse_name", "propagation", "allowed_source_kinds",
                  "allowed_target_kinds", "builtin", "description", *STAMPS]
        brief_fields = ["id", "url", "display", "name", "slug", "inverse_name"]


class RelationshipSerializer(BaseModelSerializer):
    class Meta:
        model = models.Relationship
        fields = ["id", "url", "display", "source", "type", "target", "origin", "description", "created",
                  "last_updated"]
        brief_fields = ["id", "url", "display", "source", "type", "target"]


class RedundancyGroupSerializer(TaggedModelSerializer):
    ci_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = models.RedundancyGroup
        fields = ["id", "url", "display", "name", "min_up", "description", "comments", *CI_FIELDS, *STAMPS]
        brief_fields = ["id", "url", "display", "name", "min_up"]


class RedundancyMemberSerializer(BaseModelSerializer):
    class Meta:
        model = models.RedundancyMember
        fields = ["id", "url", "display", "group", "ci", "created", "last_updated"]
        brief_fields = ["id", "url", "display", "group", "ci"]
