from rest_framework import serializers

from cmdb.api.serializers import BaseModelSerializer, TaggedModelSerializer

from .. import models

STAMPS = ["created", "last_updated"]


class ExporterTypeSerializer(TaggedModelSerializer):
    class Meta:
        model = models.ExporterType
        fields = ["id", "url", "display", "name", "slug", "port", "scheme", "metrics_path", "description", "tags",
                  "custom_fields", *STAMPS]
        brief_fields = ["id", "url", "display", "name", "slug", "port"]


class MonitorSerializer(BaseModelSerializer):
    class Meta:
        model = models.Monitor
        fields = ["id", "url", "display", "ci", "exporter_type", "enabled", "port", "description", *STAMPS]
        brief_fields = ["id", "url", "display", "ci", "exporter_type", "enabled"]


class IncidentSerializer(BaseModelSerializer):
    class Meta:
        model = models.Incident
        fields = ["id", "url", "display", "fingerprint", "alertname", "status", "severity", "ci", "summary",
                  "description", "labels", "annotations", "generator_url", "started_at", "ended_at",
                  "last_notified", "notifications", "impacted_services", *STAMPS]
        brief_fields = ["id", "url", "display", "alertname", "status", "severity", "ci"]
        read_only_fields = fields


class AlertSerializer(serializers.Serializer):
    """One alert as Alertmanager's webhook sends it (https://prometheus.io/docs/alerting/latest/configuration/)."""

    status = serializers.ChoiceField(choices=["firing", "resolved"])
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=2000))
    annotations = serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=10000),
                                        required=False, default=dict)
    startsAt = serializers.DateTimeField()
    endsAt = serializers.DateTimeField(required=False, allow_null=True)
    generatorURL = serializers.CharField(required=False, allow_blank=True, default="")
    fingerprint = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")


class AlertmanagerWebhookSerializer(serializers.Serializer):
    version = serializers.CharField(required=False, default="4")
    groupKey = serializers.CharField(required=False, allow_blank=True, default="")
    status = serializers.ChoiceField(choices=["firing", "resolved"])
    receiver = serializers.CharField(required=False, allow_blank=True, default="")
    alerts = AlertSerializer(many=True, allow_empty=False)
