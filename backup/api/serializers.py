from rest_framework import serializers

from cmdb.api.serializers import BaseModelSerializer, TaggedModelSerializer

from .. import models

STAMPS = ["tags", "custom_fields", "created", "last_updated"]
CI_FIELDS = ["status", "tenant", "criticality", "owner", "last_seen", "ci_id"]
PLAIN_STAMPS = ["created", "last_updated"]


class RepositorySerializer(TaggedModelSerializer):
    ci_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = models.Repository
        fields = ["id", "url", "display", "name", "repo_url", "password_ref", "credentials", "role", "append_only",
                  "description", "comments", *CI_FIELDS, *STAMPS]
        brief_fields = ["id", "url", "display", "name", "role"]


class PolicySerializer(TaggedModelSerializer):
    ci_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = models.Policy
        fields = ["id", "url", "display", "name", "paths", "excludes", "dump_command", "kubernetes_volumes", "schedule",
                  "keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly", "rpo_hours",
                  "repository", "check_schedule", "check_subset", "restore_test_schedule", "restore_sample_size",
                  "restore_test_max_age_days", "archive_repository", "archive_years", "description", "comments",
                  *CI_FIELDS, *STAMPS]
        brief_fields = ["id", "url", "display", "name"]


class PolicyAttachmentSerializer(BaseModelSerializer):
    class Meta:
        model = models.PolicyAttachment
        fields = ["id", "url", "display", "policy", "ci", "description", *PLAIN_STAMPS]
        brief_fields = ["id", "url", "display", "policy", "ci"]


class SnapshotSerializer(BaseModelSerializer):
    class Meta:
        model = models.Snapshot
        fields = ["id", "url", "display", "repository", "snapshot_id", "short_id", "time", "hostname", "paths",
                  "restic_tags", "size", "files", "ci", "policy", *PLAIN_STAMPS]
        brief_fields = ["id", "url", "display", "short_id", "time"]
        read_only_fields = fields


class RunSerializer(BaseModelSerializer):
    class Meta:
        model = models.Run
        fields = ["id", "url", "display", "operation", "status", "repository", "policy", "ci", "snapshot_id",
                  "started", "duration", "message", "details", *PLAIN_STAMPS]
        brief_fields = ["id", "url", "display", "operation", "status"]
        read_only_fields = fields


class RestoreTestSerializer(BaseModelSerializer):
    class Meta:
        model = models.RestoreTest
        fields = ["id", "url", "display", "ci", "backup_snapshot", "repository", "restic_id", "passed", "tested_at",
                  "duration", "files_checked", "bytes_checked", "message", *PLAIN_STAMPS]
        brief_fields = ["id", "url", "display", "passed", "tested_at"]
        read_only_fields = fields
