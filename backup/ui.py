"""Web UI hooks of the backup domain: the standard pages of repositories, policies and their outcome,
and a backup panel on every CI's page (effective policy with its explanation, snapshots, last restore test)."""

from __future__ import annotations

from typing import Any

from django.utils.html import format_html, format_html_join

from cmdb.core.models import ConfigurationItem
from cmdb.ui.registry import register, register_link, register_panel
from cmdb.users.permissions import restrict

from . import coverage, filtersets, models

register(models.Repository, filterset=filtersets.RepositoryFilterSet,
         columns=["name", "repo_url", "role", "append_only", "tenant", "status"], group="Backup")
register(models.Policy, filterset=filtersets.PolicyFilterSet,
         columns=["name", "schedule", "repository", "rpo_hours", "archive_repository", "tenant"], group="Backup")
register(models.PolicyAttachment, filterset=filtersets.PolicyAttachmentFilterSet,
         columns=["policy", "ci", "description"], group="Backup")
# Observations: synced or recorded by the worker, never edited by hand.
register(models.Snapshot, filterset=filtersets.SnapshotFilterSet,
         columns=["short_id", "time", "repository", "ci", "hostname", "size", "files"], group="Backup", read_only=True)
register(models.Run, filterset=filtersets.RunFilterSet,
         columns=["operation", "status", "repository", "ci", "started", "duration"], group="Backup", read_only=True)
register(models.RestoreTest, filterset=filtersets.RestoreTestFilterSet,
         columns=["restic_id", "ci", "passed", "tested_at", "duration", "files_checked"], group="Backup",
         read_only=True)

register_link("Backup", "Coverage", "backup:coverage", "backup.policy")

SNAPSHOTS_SHOWN = 5


def backup_panel(request: Any, obj: Any) -> str | None:
    """The CI's effective policy and why, its newest snapshots and restore test (a few queries, tenant-scoped)."""
    ci_id = getattr(obj, "ci_id", None)
    if ci_id is None or isinstance(obj, (models.Repository, models.Policy)):
        return None
    user = request.user
    effective = coverage.effective_policies([ci_id]).get(ci_id)
    policies = list(restrict(models.Policy.objects.filter(pk__in=effective.policy_ids if effective else []), user)
                    .values_list("name", flat=True))
    snapshots = list(restrict(models.Snapshot.objects.filter(ci_id=ci_id), user).select_related("repository")
                     .order_by("-time")[:SNAPSHOTS_SHOWN])
    test = restrict(models.RestoreTest.objects.filter(ci_id=ci_id), user).order_by("-tested_at").first()
    if effective is None and not snapshots and test is None:
        return None
    if effective is not None and effective.distance:
        visible = restrict(ConfigurationItem.objects.filter(pk=effective.source_ci), user).exists()
        why = effective.explanation if visible else "inherited from a CI outside your view"
    else:
        why = effective.explanation if effective else "no policy"
    rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
        (s.short_id, s.time.strftime("%Y-%m-%d %H:%M"), s.repository.name, s.size if s.size is not None else "")
        for s in snapshots))
    restore = format_html("{} at {} ({} s): {}", "passed" if test.passed else "FAILED",
                          test.tested_at.strftime("%Y-%m-%d %H:%M"), f"{test.duration:.1f}",
                          test.message[:200]) if test else "none"
    return format_html(
        '<div class="card panel-backup"><h3>Backup</h3><p>Policy: <strong>{}</strong> — {}</p>'
        "<p>Last restore test: {}</p><table><tr><th>Snapshot</th><th>Time</th><th>Repository</th><th>Bytes</th></tr>"
        "{}</table></div>", ", ".join(policies) or "none", why, restore, rows)


register_panel("*", backup_panel)
