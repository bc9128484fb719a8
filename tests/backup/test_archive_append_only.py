"""The immutable archive: ``rclone serve restic --append-only`` on a loopback port as the archive backend.

Our own ``forget`` against it is refused, and the archive copy survives when the primary loses the snapshots.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backup import services
from backup.models import Repository, Snapshot
from tests import factories

pytestmark = pytest.mark.django_db


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def append_only_server(tmp_path: Path) -> Iterator[str]:
    if shutil.which("rclone") is None:
        pytest.skip("rclone is not installed (apt-get install rclone)")
    port = free_port()
    root = tmp_path / "rclone-root"
    root.mkdir()
    proc = subprocess.Popen(["rclone", "serve", "restic", "--append-only", "--addr", f"127.0.0.1:{port}", str(root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "RCLONE_CONFIG": str(tmp_path / "rclone.conf")})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("rclone serve restic did not start")
        yield f"rest:http://127.0.0.1:{port}/archive/"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_archive_copy_is_undeletable(repos: Any, data_dir: Path, append_only_server: str) -> None:
    archive = Repository(name="immutable", repo_url=append_only_server, password_ref="env:CMDB_RESTIC_ARCHIVE_PASSWORD",
                         role="archive", append_only=True)
    archive.validated_save()
    assert services.init_repository(repos.primary).ok
    init = services.init_archive(archive, repos.primary)
    assert init.ok, init.message
    policy = repos.Policy(name="files", paths=[str(data_dir)], repository=repos.primary, keep_last=1, keep_daily=0,
                          keep_weekly=0, keep_monthly=0, archive_repository=archive, archive_years=10)
    policy.validated_save()
    server = factories.device("srv-archive")
    first = services.run_backup(policy, ci=server.ci)
    (data_dir / "added.txt").write_text("more\n")
    second = services.run_backup(policy, ci=server.ci)
    assert first.ok and second.ok
    copied = services.copy_to_archive(policy)
    assert copied.ok, copied.message
    assert Snapshot.objects.filter(repository=archive).count() == 2

    # Our own forget against the archive is refused by the backend.
    shadow = copy.copy(policy)  # the same rules pointed at the archive: what the reconciler never does
    shadow.repository = archive
    refused = services.apply_retention(shadow, lock_retries=0)
    assert not refused.ok and append_only_server in refused.message

    # The primary loses everything (retention, then an operator deleting the repository).
    assert services.apply_retention(policy).ok
    shutil.rmtree(repos.primary.repo_url)
    assert not services.sync_inventory(repos.primary).ok
    resync = services.sync_inventory(archive)
    assert resync.ok and resync.details["snapshots"] == 2
    listed = json.loads(subprocess.run(
        ["restic", "--no-cache", "-r", append_only_server, "snapshots", "--json"], capture_output=True, text=True,
        env={**os.environ, "RESTIC_PASSWORD": "another archive password"}, check=True).stdout)
    originals = sorted([first.details["snapshot_id"], second.details["snapshot_id"]])
    assert sorted(s["original"] for s in listed) == originals

