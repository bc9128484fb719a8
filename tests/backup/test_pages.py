"""Backup pages: the standard lists, read-only observations, and the backup panel on a CI's page."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from backup.models import Policy, PolicyAttachment, Repository, RestoreTest, Snapshot
from cmdb.services.models import Relationship, RelationshipType, Service
from tests import factories

pytestmark = pytest.mark.django_db


def test_lists_and_the_ci_panel(client: Any, superuser: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Repository(name="primary-repo", repo_url="/srv/restic", password_ref="env:CMDB_RESTIC_PASSWORD")
    repo.validated_save()
    policy = Policy(name="nightly-files", paths=["/srv"], repository=repo)
    policy.validated_save()
    service = Service(name="campus-management", slug="campus-management")
    service.save()
    vm = factories.device("vm-panel")
    Relationship.objects.create(source_id=service.ci_id, target_id=vm.ci_id,
                                type=RelationshipType.objects.get(slug="runs_on"))
    PolicyAttachment.objects.create(policy=policy, ci_id=service.ci_id)
    snap = Snapshot.objects.create(repository=repo, snapshot_id="c" * 64, short_id="cccccccc", time=timezone.now(),
                                   ci_id=vm.ci_id, policy=policy, size=1234)
    RestoreTest.objects.create(ci_id=vm.ci_id, backup_snapshot=snap, repository=repo, restic_id=snap.snapshot_id,
                               passed=True, tested_at=timezone.now(), duration=1.5, message="20 files identical")
    client.force_login(superuser)
    for path, expected in (("/backup/repositories/", "primary-repo"), ("/backup/policies/", "nightly-files"),
                           ("/backup/snapshots/", "cccccccc"), ("/backup/restore-tests/", "c" * 16)):
        page = client.get(path)
        assert page.status_code == 200, path
        assert expected in page.content.decode(), path
    detail = client.get(f"/dcim/devices/{vm.pk}/").content.decode()
    assert "panel-backup" in detail and "nightly-files" in detail
    assert "inherited from service campus-management (runs_on)" in detail
    assert "cccccccc" in detail and "passed" in detail and "20 files identical" in detail
    assert client.get("/backup/snapshots/add/").status_code in (403, 404, 405)  # observations are read-only
