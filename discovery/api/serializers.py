from rest_framework import serializers

from cmdb.api.serializers import BaseModelSerializer, TaggedModelSerializer

from .. import models

STAMPS = ["tags", "custom_fields", "created", "last_updated"]


class HostSerializer(TaggedModelSerializer):
    ci_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = models.Host
        fields = ["id", "url", "display", "name", "role", "fqdn", "serial", "manufacturer", "product", "system_uuid",
                  "is_virtual", "os_name", "os_version", "kernel", "cpu_model", "cpu_sockets", "cpu_cores",
                  "memory_mb", "facts", "identified_by", "first_discovered", "stale", "status", "tenant",
                  "criticality", "owner", "last_seen", "device", "virtual_machine", "link_rule", "description",
                  "comments", "ci_id", *STAMPS]
        read_only_fields = ["identified_by", "first_discovered", "stale", "last_seen"]
        brief_fields = ["id", "url", "display", "name", "description"]


class AttributeSourceSerializer(BaseModelSerializer):
    class Meta:
        model = models.AttributeSource
        fields = ["id", "display", "ci", "attribute", "source", "source_name", "value_digest", "set_at"]
        brief_fields = ["id", "display", "attribute", "source"]


class IngestRecordSerializer(BaseModelSerializer):
    class Meta:
        model = models.IngestRecord
        fields = ["id", "display", "ci", "received", "collected_at", "source", "source_name", "rule", "action",
                  "changed", "skipped", "software", "conflicts"]
        brief_fields = ["id", "display", "ci", "received", "action"]
