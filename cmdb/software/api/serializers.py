from rest_framework import serializers

from cmdb.api.serializers import BaseModelSerializer, TaggedModelSerializer

from .. import models

STAMPS = ["tags", "custom_fields", "created", "last_updated"]
CI_FIELDS = ["status", "tenant", "criticality", "owner", "last_seen", "ci_id"]


class SoftwareProductSerializer(TaggedModelSerializer):
    class Meta:
        model = models.SoftwareProduct
        fields = ["id", "url", "display", "vendor", "name", "slug", "category", "version_scheme", "description",
                  "comments", *STAMPS]
        brief_fields = ["id", "url", "display", "vendor", "name", "slug"]


class SoftwareVersionSerializer(TaggedModelSerializer):
    class Meta:
        model = models.SoftwareVersion
        fields = ["id", "url", "display", "product", "version", "sort_key", "release_date", "end_of_support",
                  "description", "comments", *STAMPS]
        brief_fields = ["id", "url", "display", "product", "version"]


class SoftwareInstallationSerializer(BaseModelSerializer):
    class Meta:
        model = models.SoftwareInstallation
        fields = ["id", "url", "display", "ci", "product", "version", "first_seen", "last_seen", "source",
                  "created", "last_updated"]
        brief_fields = ["id", "url", "display", "ci", "version"]


class LicenseSerializer(TaggedModelSerializer):
    ci_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = models.License
        fields = ["id", "url", "display", "name", "product", "vendor", "metric", "quantity", "peak_usage", "cost",
                  "currency", "contract_number", "order_number", "start_date", "end_date", "description",
                  "comments", *CI_FIELDS, *STAMPS]
        brief_fields = ["id", "url", "display", "name", "metric", "quantity"]


class LicenseAssignmentSerializer(BaseModelSerializer):
    class Meta:
        model = models.LicenseAssignment
        fields = ["id", "url", "display", "license", "ci", "user", "group", "description", "created",
                  "last_updated"]
        brief_fields = ["id", "url", "display", "license"]
