"""The restore test's verification against real restic: one ``restic dump --archive tar`` pass (issue 16).

A restore test restores files with ``restic restore`` and compares each with the snapshot's content as
``restic dump`` streams it.  These tests use a tree with the awkward cases (nested folders, an empty
file, spaces and non-ASCII letters in a name, a symlink, a file of a few MB) and check that a full
test passes byte for byte, that a restore which wrote different bytes is caught (in one archive and
file by file), that a sample verifies its subset, and how the wrapper reports restic's own failures.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from backup import restic as r
from backup import services
from backup.models import RestoreTest, Run, Snapshot

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

UNICODE_NAME = "Jahresabschluss März – ü ñ 名前.txt"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "empty-folder").mkdir()
    (root / "a" / "b" / "c" / "deep.txt").write_text("deep down\n")
    (root / "a" / "one.txt").write_text("one\n" * 100)
    (root / "a.txt").write_text("sorts between a/ and b/ by bytes\n")  # '.' < '/': tree order is not path order
    (root / "empty").write_bytes(b"")
    (root / "with space").mkdir()
    (root / "with space" / UNICODE_NAME).write_text("Ümlaut und Leerzeichen\n", encoding="utf-8")
    (root / "link-to-one").symlink_to("a/one.txt")  # a symlink is not a file: listed, never compared
    (root / "large.bin").write_bytes(os.urandom(3 << 20) + b"tail")
    for i in range(40):
        (root / "many" / f"{i % 4}").mkdir(parents=True, exist_ok=True)
        (root / "many" / f"{i % 4}" / f"f{i}.dat").write_bytes(os.urandom(1000 + i))
    return root


def regular_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def backed_up(repos: Any, tree: Path, restore_sample_size: int = 0) -> Any:
    assert services.init_repository(repos.primary).ok
    policy = repos.Policy(name="tree", paths=[str(tree)], repository=repos.primary,
                          restore_sample_size=restore_sample_size)
    policy.validated_save()
    outcome = services.run_backup(policy)
    assert outcome.ok, outcome.message
    assert services.sync_inventory(repos.primary).ok
    return policy


def target(repos: Any) -> r.Target:
    return r.Target(url=repos.primary.repo_url, password=PASSWORD)


def test_restic_names_tar_members_by_their_full_snapshot_path(repos: Any, tree: Path) -> None:
    """The experiment the reader relies on: members are named ``tmp/.../x``, whatever folder is dumped."""
    backed_up(repos, tree)
    snap = Snapshot.objects.get().snapshot_id
    with r.dump_tar(target(repos), snap, str(tree / "with space")) as stream, \
            tarfile.open(fileobj=stream, mode="r|") as archive:
        names = [(m.name, m.isreg()) for m in archive]
    expected = str(tree / "with space" / UNICODE_NAME).lstrip("/")
    assert names == [(expected, True)]
    assert r.tar_member_path(expected) == str(tree / "with space" / UNICODE_NAME)
    with r.dump_tar(target(repos), snap, "/") as stream, tarfile.open(fileobj=stream, mode="r|") as archive:
        kinds = {r.tar_member_path(m.name): m for m in archive}
    assert kinds[str(tree / "link-to-one")].issym() and kinds[str(tree / "empty")].size == 0
    # The archive comes in the order restic ls lists the snapshot (what the sample's cost estimate assumes).
    listed = [n["path"] for n in r.ls(target(repos), snap)]
    assert [p for p in listed if p in kinds] == list(kinds)


def test_a_full_restore_test_verifies_every_file_in_one_archive(repos: Any, tree: Path, tmp_path: Path) -> None:
    policy = backed_up(repos, tree)
    outcome = services.restore_test(policy, sample_size=0, scratch=str(tmp_path))
    assert outcome.ok, outcome.message
    files = regular_files(tree)
    assert outcome.details["files"] == len(files) == 46  # the symlink and the folders are not files
    assert outcome.details["bytes"] == sum(p.stat().st_size for p in files)
    assert outcome.details["verify"] == "archive" and outcome.details["verify_seconds"] >= 0
    assert "one restic dump archive" in outcome.message
    record = RestoreTest.objects.get()
    assert record.passed and record.files_checked == 46 and record.duration == outcome.details["restore_seconds"]
    assert Run.objects.get(operation="restore-test").details["verify"] == "archive"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("cmdb-restore-test-")]  # scratch cleaned


def tamper_after_restore(monkeypatch: pytest.MonkeyPatch, change: Any) -> None:
    """Simulated: ``restic restore`` itself succeeds but what lands on disk is not what the repository holds
    (a faulty disk or filesystem under the scratch folder, a restore bug).  The repository stays intact,
    so only the comparison with ``restic dump`` can notice."""
    real_restore = r.restore

    def restore(target: r.Target, snapshot_id: str, folder: str, includes: list[str] | None = None) -> None:
        real_restore(target, snapshot_id, folder, includes)
        change(Path(folder))

    monkeypatch.setattr(r, "restore", restore)


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_restore_with_other_bytes_of_the_same_size_is_caught(repos: Any, tree: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    policy = backed_up(repos, tree)

    def change(folder: Path) -> None:
        restored = folder / str(tree).lstrip("/")
        flip_byte(restored / "large.bin", (3 << 20) - 7)
        flip_byte(restored / "with space" / UNICODE_NAME, 0)
        (restored / "a" / "one.txt").write_text("one\n" * 99)  # shorter
        (restored / "many" / "2" / "f2.dat").unlink()

    tamper_after_restore(monkeypatch, change)
    outcome = services.restore_test(policy, sample_size=0)
    assert not outcome.ok
    message = outcome.message
    assert repos.primary.repo_url in message and "restored files differ (4 of 46)" in message
    assert f"{tree}/large.bin: checksum differs from the snapshot's content" in message
    assert f"{tree}/with space/{UNICODE_NAME}: checksum differs" in message
    assert f"{tree}/a/one.txt: 396 bytes restored, 400 in the snapshot" in message
    assert f"{tree}/many/2/f2.dat: not restored" in message
    assert not RestoreTest.objects.get().passed


def test_a_sample_verifies_its_subset_file_by_file_or_in_one_archive(repos: Any, tree: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    policy = backed_up(repos, tree, restore_sample_size=5)
    sampled = services.restore_test(policy)  # the policy's sample size
    assert sampled.ok, sampled.message
    assert sampled.details["files"] == 5
    # Five small files of a 3 MB snapshot: one archive (streaming 3 MB is cheaper than four more restic starts).
    assert sampled.details["verify"] == "archive"
    monkeypatch.setattr(services, "DUMP_START_BYTES", 0)  # as if restic started for free: file by file
    per_file = services.restore_test(policy)
    assert per_file.ok and per_file.details["verify"] == "per-file" and per_file.details["files"] == 5

    def change(folder: Path) -> None:  # every restored file altered: whatever the sample, it is noticed
        for path in regular_files(folder):
            if path.stat().st_size:
                flip_byte(path, 0)

    tamper_after_restore(monkeypatch, change)
    for start_bytes in (0, 1 << 40):
        monkeypatch.setattr(services, "DUMP_START_BYTES", start_bytes)
        outcome = services.restore_test(policy, sample_size=8)
        assert not outcome.ok and "checksum differs from the snapshot's content" in outcome.message
        assert "(8 of 8)" in outcome.message or "(7 of 8)" in outcome.message  # an empty file cannot differ


def test_the_sample_plan_weighs_restic_starts_against_streamed_bytes() -> None:
    mb = 1 << 20

    def node(path: str, size: int) -> dict[str, Any]:
        return {"path": path, "type": "file", "size": size}

    nodes = [node(f"/srv/big/{i:03}", 500 * mb) for i in range(100)] + [node("/srv/small/x", 10)]
    start = services.DUMP_START_BYTES
    assert services._plan_verify(nodes, nodes, full=True) == "archive"
    assert services._plan_verify(nodes, [nodes[-1]], full=False) == "per-file"  # one file: dumped alone
    # Two files 50 GB apart: two restic starts instead of streaming 50 GB.
    assert services._plan_verify(nodes, [nodes[0], nodes[-1]], full=False) == "per-file"
    # Neighbours: the archive stops after the last one, so it streams only what was chosen.
    assert services._plan_verify(nodes, nodes[:2], full=False) == "archive"
    small = [node(f"/srv/small/{i}", 10_000) for i in range(1000)]
    assert services._plan_verify(small, small[::10], full=False) == "archive"
    assert start > 10_000 * 9  # (the last assertion holds because skipped files cost less than a start)


def test_dump_tar_reports_restic_errors_and_stops_restic_when_the_reader_leaves(repos: Any, tree: Path) -> None:
    backed_up(repos, tree)
    snap = Snapshot.objects.get().snapshot_id
    with pytest.raises(r.ResticError) as caught, r.dump_tar(target(repos), snap, "/no/such/folder"):
        pass
    assert caught.value.repository == repos.primary.repo_url
    assert 'path "/no" not found in snapshot' in caught.value.message or "not found" in caught.value.message
    with pytest.raises(r.ResticError) as wrong, r.dump_tar(r.Target(url=repos.primary.repo_url, password="wrong"),
                                                          snap, "/"):
        pass
    assert "wrong password" in wrong.value.message
    # A reader that takes one header and leaves: restic is stopped (SIGINT) and collected, its lock removed.
    with r.dump_tar(target(repos), snap, "/") as stream:
        assert len(stream.read(512)) == 512
    assert services.check_repository(repos.primary).ok  # no stale lock left behind


def test_a_pack_damaged_mid_archive_surfaces_restics_error(repos: Any, tree: Path) -> None:
    """Simulated: a pack of the repository damaged on disk (one byte flipped, as bit rot does)."""
    policy = backed_up(repos, tree)
    snap = Snapshot.objects.get().snapshot_id
    packs = [p for p in (Path(repos.primary.repo_url) / "data").rglob("*") if p.is_file()]
    pack = max(packs, key=lambda p: p.stat().st_size)  # the one holding large.bin
    os.chmod(pack, 0o644)
    flip_byte(pack, pack.stat().st_size // 2)
    with pytest.raises(r.ResticError) as caught, r.dump_tar(target(repos), snap, str(tree)) as stream, \
            tarfile.open(fileobj=stream, mode="r|") as archive:
        for member in archive:
            if member.isreg():
                archive.extractfile(member).read()  # type: ignore[union-attr]
    assert caught.value.repository == repos.primary.repo_url and caught.value.message
    outcome = services.restore_test(policy, sample_size=0)
    assert not outcome.ok and repos.primary.repo_url in outcome.message


def test_the_full_snapshot_id_without_starting_restic_for_a_local_repository(repos: Any, tree: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """restic 0.14 reports a backup's short id; a local repository's snapshot file names the full one."""
    backed_up(repos, tree)
    full = Snapshot.objects.get().snapshot_id
    assert len(full) == 64 and Run.objects.get(operation="backup").snapshot_id == full
    for url in (repos.primary.repo_url, f"local:{repos.primary.repo_url}"):
        assert r.full_snapshot_id(r.Target(url=url, password=PASSWORD), full[:8]) == full
    started: list[str] = []
    real_call = r.via_resticpy
    monkeypatch.setattr(r, "via_resticpy", lambda *a, **k: started.append(a[1]) or real_call(*a, **k))
    assert r.full_snapshot_id(target(repos), full[:8]) == full and started == []

    def unreadable(folder: str) -> list[str]:
        raise PermissionError(folder)

    monkeypatch.setattr(os, "listdir", unreadable)  # as for a remote repository: restic is asked
    assert r.full_snapshot_id(target(repos), full[:8]) == full and started == ["snapshots"]


def test_a_file_the_archive_lacks_is_named(repos: Any, tree: Path, tmp_path: Path) -> None:
    """Simulated: a restored file the snapshot's archive does not hold (as if restic dump dropped it)."""
    backed_up(repos, tree)
    snap = Snapshot.objects.get().snapshot_id
    folder = tmp_path / "restored"
    r.restore(target(repos), snap, str(folder))
    ghost = folder / str(tree).lstrip("/") / "a" / "ghost.txt"
    ghost.write_text("not in the snapshot\n")
    pending = {str(tree / "a" / "one.txt"): {"size": 400}, str(tree / "a" / "ghost.txt"): {"size": 20}}
    problems = services._verify(target(repos), snap, str(folder), pending, "archive", True, None)
    assert problems == [f"{tree}/a/ghost.txt: missing from restic dump's archive of {tree}/a"]
