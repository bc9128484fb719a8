from cmdb.api.filters import BaseFilterSet

from . import models

CI_FIELDS = ["status", "tenant", "criticality", "owner", "last_seen"]


class RepositoryFilterSet(BaseFilterSet):
    class Meta:
        model = models.Repository
        fields = ["name", "repo_url", "role", "append_only", "description", *CI_FIELDS]


class PolicyFilterSet(BaseFilterSet):
    class Meta:
        model = models.Policy
        fields = ["name", "schedule", "kubernetes_volumes", "rpo_hours", "repository", "archive_repository",
                  "archive_years", "description", *CI_FIELDS]


class PolicyAttachmentFilterSet(BaseFilterSet):
    class Meta:
        model = models.PolicyAttachment
        fields = ["policy", "ci", "description"]
        related_paths = {"kind": "ci__kind", "tenant": "ci__tenant"}


class SnapshotFilterSet(BaseFilterSet):
    class Meta:
        model = models.Snapshot
        fields = ["repository", "snapshot_id", "short_id", "time", "hostname", "ci", "policy"]
        related_paths = {"tenant": "ci__tenant"}


class RunFilterSet(BaseFilterSet):
    class Meta:
        model = models.Run
        fields = ["operation", "status", "repository", "policy", "ci", "snapshot_id", "started"]
        related_paths = {"tenant": "ci__tenant"}


class RestoreTestFilterSet(BaseFilterSet):
    class Meta:
        model = models.RestoreTest
        fields = ["ci", "backup_snapshot", "repository", "restic_id", "passed", "tested_at"]
        related_paths = {"tenant": "ci__tenant"}
