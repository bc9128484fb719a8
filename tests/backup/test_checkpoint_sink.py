"""Audit checkpoints into the backup archive (a real restic repository): written, read back, authentic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backup import services
from backup.checkpoints import CHECKPOINT_TAG, archive_sink, archived_checkpoints
from backup.models import Repository
from cmdb.core import checkpoints as cp
from cmdb.core.changelog import audit_keys
from cmdb.core.context import change_logging
from tests import factories

pytestmark = pytest.mark.django_db


def test_checkpoints_go_into_the_archive_and_verify(repos: Any, settings: Any, tmp_path: Path,
                                                    secrets_env: dict[str, str]) -> None:
    assert services.init_repository(repos.archive).ok
    settings.CMDB_AUDIT_CHECKPOINT_ARCHIVE = "archive"
    settings.AUDIT_CHECKPOINT_FILE = str(tmp_path / "checkpoints.log")
    assert "backup-archive" in [s.name for s in cp.configured_sinks()]
    with change_logging(source="test"):
        factories.device("audited-1")
    first = cp.checkpoint_write(reason="test")
    assert not first.failed and any(w.startswith("backup-archive") for w in first.written), first
    with change_logging(source="test"):
        factories.device("audited-2")
    second = cp.checkpoint_write(reason="test")
    assert not second.failed

    lines = archived_checkpoints(repos.archive)
    assert len(lines) == 2
    found = [cp.parse_line(line, audit_keys()) for line in lines]  # HMAC-checked under the audit key
    assert [c.id for c in found] == [first.checkpoint.id, second.checkpoint.id]
    assert found[1].hash == second.checkpoint.hash
    # The same lines as the file sink holds.
    assert lines == (tmp_path / "checkpoints.log").read_text().splitlines()
    assert services.sync_inventory(repos.archive).ok
    assert repos.archive.snapshots.filter(restic_tags__contains=[CHECKPOINT_TAG]).count() == 2


def test_a_failing_archive_is_reported_and_the_other_sinks_are_written(repos: Any, settings: Any, tmp_path: Path,
                                                                      secrets_env: dict[str, str]) -> None:
    assert services.init_repository(repos.archive).ok
    Repository.objects.filter(pk=repos.archive.pk).update(password_ref=secrets_env["wrong"])
    settings.CMDB_AUDIT_CHECKPOINT_ARCHIVE = "archive"
    settings.AUDIT_CHECKPOINT_FILE = str(tmp_path / "checkpoints.log")
    report = cp.checkpoint_write(reason="test")
    assert [k for k in report.failed if k.startswith("backup-archive")]
    assert "wrong password" in next(iter(report.failed.values()))
    assert any(w.startswith("file") for w in report.written)
    settings.CMDB_AUDIT_CHECKPOINT_ARCHIVE = ""
    assert archive_sink() is None
