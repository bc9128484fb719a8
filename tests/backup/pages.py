"""One object of every backup model, for tests/ui/test_pages.py (every registered page renders)."""

from __future__ import annotations

from django.utils import timezone

from backup.models import Policy, PolicyAttachment, Repository, RestoreTest, Run, Snapshot


def add_backup_objects(ci_id: int) -> None:
    repo = Repository(name="ui-repo", repo_url="/srv/restic/ui", password_ref="env:CMDB_RESTIC_PASSWORD")
    repo.validated_save()
    policy = Policy(name="ui-policy", paths=["/srv"], repository=repo)
    policy.validated_save()
    PolicyAttachment.objects.create(policy=policy, ci_id=ci_id)
    snap = Snapshot.objects.create(repository=repo, snapshot_id="d" * 64, short_id="dddddddd", time=timezone.now(),
                                   ci_id=ci_id, policy=policy)
    Run.objects.create(operation="backup", status="success", repository=repo, policy=policy, ci_id=ci_id,
                       snapshot_id=snap.snapshot_id, started=timezone.now())
    RestoreTest.objects.create(ci_id=ci_id, backup_snapshot=snap, repository=repo, restic_id=snap.snapshot_id,
                               passed=True, tested_at=timezone.now())
