"""Backup operations as plain functions: each takes CMDB records, drives restic, and returns an :class:`Outcome`.

Every operation ends in an outcome, never a traceback: a wrong password, a missing repository, a
locked repository (after retries), a killed restic or an unreadable secret become ``ok=False`` with
the repository and restic's own message, recorded as a :class:`~backup.models.Run`.  Inventory
writes happen in one transaction after restic has answered, so a failure leaves the previous
inventory intact rather than half of a new one.

Snapshots are labelled with tags ``cmdb-policy=<id>`` and ``cmdb-ci=<registry id>``: the inventory
sync reads them back to attribute snapshots to CIs, and retention and archive copies select a
policy's snapshots by them.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import hashlib
import os
import posixpath
import random
import shutil
import socket
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cmdb.core import copyinsert
from cmdb.core.models import ConfigurationItem
from cmdb.core.secrets import SecretUnavailable, resolve

from . import restic as r
from .models import RESTIC_SECRETS, Policy, Repository, RestoreTest, Run, RunStatus, Snapshot, dump_commands

POLICY_TAG = "cmdb-policy="
CI_TAG = "cmdb-ci="


@dataclass
class Outcome:
    """How one operation ended; ``details`` holds what it produced (snapshot id, kept/removed ids ...)."""

    operation: str
    ok: bool
    repository: str
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    duration: float = 0.0
    run_id: int | None = None


def target_of(repository: Repository, *, lock_retries: int = 3, lock_wait: float = 2.0) -> r.Target:
    """The repository opened with its secrets resolved (raises :class:`SecretUnavailable`)."""
    password = resolve(repository.password_ref, RESTIC_SECRETS)
    env = {name: resolve(ref, RESTIC_SECRETS) for name, ref in (repository.credentials or {}).items()}
    return r.Target(url=repository.repo_url, password=password, env=env, lock_retries=lock_retries, lock_wait=lock_wait)


def _operate(operation: str, repository: Repository, work: Callable[[r.Target], dict[str, Any]], *,
             policy: Policy | None = None, ci_id: int | None = None, record: bool = True,
             lock_retries: int = 3, lock_wait: float = 2.0) -> Outcome:
    """Run ``work`` against ``repository``; every failure becomes a failed outcome (and a Run row)."""
    started = timezone.now()
    clock = time.monotonic()
    try:
        details = work(target_of(repository, lock_retries=lock_retries, lock_wait=lock_wait)) or {}
        outcome = Outcome(operation, True, repository.repo_url, details.pop("message", ""), details)
    except r.ResticError as exc:
        outcome = Outcome(operation, False, repository.repo_url,
                          f"{operation} failed on repository {repository.name} ({repository.repo_url}): {exc.message}",
                          {"exit_code": exc.exit_code, "locked": exc.locked})
    except SecretUnavailable as exc:
        outcome = Outcome(operation, False, repository.repo_url,
                          f"{operation} on repository {repository.name}: secret unavailable: {exc}")
    except OSError as exc:  # scratch folder, disk full while restoring, unreadable source
        outcome = Outcome(operation, False, repository.repo_url,
                          f"{operation} on repository {repository.name} ({repository.repo_url}): {exc}")
    outcome.duration = time.monotonic() - clock
    if record:
        run = Run.objects.create(
            operation=operation, status=RunStatus.SUCCESS if outcome.ok else RunStatus.FAILED,
            repository=repository, policy=policy, ci_id=ci_id, snapshot_id=str(outcome.details.get("snapshot_id", "")),
            started=started, duration=outcome.duration, message=outcome.message[:10000],
            details={k: v for k, v in outcome.details.items() if k in ("snapshot_id", "files", "bytes", "kept",
                                                                        "removed", "exit_code", "locked",
                                                                        "restore_seconds", "verify_seconds", "verify")})
        outcome.run_id = run.pk
    return outcome


def init_repository(repository: Repository, **kw: Any) -> Outcome:
    """Create the restic repository (an archive repository gets the source's chunker parameters if given)."""
    return _operate("init", repository, lambda t: {"repository_id": r.init(t)}, **kw)


def init_archive(archive: Repository, source: Repository, **kw: Any) -> Outcome:
    return _operate("init", archive, lambda t: {"repository_id": r.init_copy_target(t, target_of(source))}, **kw)


def policy_tags(policy: Policy, ci_id: int | None) -> list[str]:
    return [f"{POLICY_TAG}{policy.pk}", *([f"{CI_TAG}{ci_id}"] if ci_id else [])]


def run_backup(policy: Policy, *, ci: ConfigurationItem | None = None, host: str | None = None, **kw: Any) -> Outcome:
    """Back up the policy's paths (or its dump command's output) as the worker sees them.

    The snapshot's host is the CI's name (restic's retention groups by host and paths, so each CI's
    snapshots are kept by the policy independently of the others).
    """
    ci_id = ci.pk if ci else None
    hostname = host or (ci.name if ci else socket.gethostname())
    tags = policy_tags(policy, ci_id)

    def work(target: r.Target) -> dict[str, Any]:
        if policy.kubernetes_volumes:
            raise r.ResticError(target.url, "a policy of Kubernetes volumes runs as a CronJob in its namespaces "
                                            "(the backup reconciler), not on the worker")
        if policy.dump_command:
            summary = _dump_backup(target, policy, tags, hostname)
        else:
            missing = [p for p in policy.paths if not os.path.exists(p)]
            if missing:
                raise r.ResticError(target.url, f"paths the worker cannot reach: {', '.join(missing)}")
            summary = r.backup(target, list(policy.paths), excludes=list(policy.excludes), tags=tags, host=hostname)
        snapshot_id = summary.get("snapshot_id", "")
        if snapshot_id:  # restic < 0.17 reports the short id
            snapshot_id = r.full_snapshot_id(target, snapshot_id)
        return {"snapshot_id": snapshot_id, "files": summary.get("total_files_processed"),
                "bytes": summary.get("total_bytes_processed")}

    return _operate("backup", policy.repository, work, policy=policy, ci_id=ci_id, **kw)


def _dump_backup(target: r.Target, policy: Policy, tags: list[str], host: str) -> dict[str, Any]:
    """Stream ``dump_command``'s output into restic; a failing dump fails the backup (and its snapshot is forgotten)."""
    command = dump_commands().get(policy.dump_command)
    if command is None:
        raise r.ResticError(target.url, f"dump command {policy.dump_command!r} is not configured on this worker "
                            "(CMDB_BACKUP_DUMP_COMMANDS)")
    # The operator's own command (a policy only names it), hence a shell: pipes and variables are theirs.
    return r.backup_command(target, command, f"{policy.name}.dump", what="dump command",  # noqa: S604
                            tags=tags, host=host, shell=True)


# --- the inventory ----------------------------------------------------------------------------------------------


def _tag_value(tags: list[str], prefix: str) -> int | None:
    for tag in tags:
        if tag.startswith(prefix) and tag[len(prefix):].isdigit():
            return int(tag[len(prefix):])
    return None


def sync_inventory(repository: Repository, **kw: Any) -> Outcome:
    """Make the CMDB's snapshot list of ``repository`` what restic lists: new ones created, gone ones deleted.

    One transaction with bulk writes: a constant number of queries whatever the number of snapshots.
    Sizes and file counts come from the snapshot's summary (restic >= 0.17) or from the backup run
    that made it.
    """

    def work(target: r.Target) -> dict[str, Any]:
        listed = r.snapshots(target)
        return write_inventory(repository, listed)

    return _operate("sync", repository, work, **kw)


def write_inventory(repository: Repository, listed: list[dict[str, Any]]) -> dict[str, Any]:
    """The database half of :func:`sync_inventory` (also what the benchmark times)."""
    ids = [s["id"] for s in listed]
    tags_of = {s["id"]: s.get("tags") or [] for s in listed}
    wanted_ci = {_tag_value(t, CI_TAG) for t in tags_of.values()} - {None}
    wanted_policy = {_tag_value(t, POLICY_TAG) for t in tags_of.values()} - {None}
    with transaction.atomic():
        known_ci = set(ConfigurationItem.objects.filter(pk__in=wanted_ci).values_list("pk", flat=True))
        known_policy = set(Policy.objects.filter(pk__in=wanted_policy).values_list("pk", flat=True))
        existing = {s.snapshot_id: s for s in Snapshot.objects.filter(repository=repository)}
        sizes = {sid: (d.get("files"), d.get("bytes")) for sid, d in Run.objects.filter(
            operation="backup", status=RunStatus.SUCCESS, snapshot_id__in=ids).values_list("snapshot_id", "details")}
        new, changed = [], []
        changed_fields: set[str] = set()
        for s in listed:
            tags = tags_of[s["id"]]
            ci_id = _tag_value(tags, CI_TAG)
            policy_id = _tag_value(tags, POLICY_TAG)
            summary = s.get("summary") or {}
            files, size = sizes.get(s["id"], (None, None))
            values = {
                "short_id": s.get("short_id") or s["id"][:8], "time": parse_datetime(s["time"]),
                "hostname": s.get("hostname", ""), "paths": s.get("paths") or [], "restic_tags": tags,
                "size": summary.get("total_bytes_processed", size),
                "files": summary.get("total_files_processed", files),
                "ci_id": ci_id if ci_id in known_ci else None,
                "policy_id": policy_id if policy_id in known_policy else None,
            }
            old = existing.pop(s["id"], None)
            if old is None:
                new.append(Snapshot(repository=repository, snapshot_id=s["id"], **values))
            else:
                differ = [k for k, v in values.items() if getattr(old, k) != v]
                if differ:
                    for k in differ:
                        setattr(old, k, values[k])
                    changed_fields.update(differ)
                    changed.append(old)
        copyinsert.insert(Snapshot, new, batch_size=5000)  # COPY on PostgreSQL, bulk_create elsewhere
        if changed:
            Snapshot.objects.bulk_update(changed, sorted(changed_fields), batch_size=1000)
        gone = [s.pk for s in existing.values()]
        if gone:
            # Forgotten in the repository: gone here too.  Inventory rows are not change-logged one by one,
            # so no per-row delete signals: detach the restore tests, then one DELETE.
            RestoreTest.objects.filter(backup_snapshot__in=gone).update(backup_snapshot=None)
            doomed = Snapshot.objects.filter(pk__in=gone)
            doomed._raw_delete(doomed.db)
    return {"created": len(new), "updated": len(changed), "deleted": len(gone), "snapshots": len(listed)}


# --- retention, archive, check ----------------------------------------------------------------------------------


def apply_retention(policy: Policy, *, prune: bool = True, dry_run: bool = False, **kw: Any) -> Outcome:
    """``forget --prune`` the policy's snapshots by its keep-* rules (restic's own semantics), then resync."""

    def work(target: r.Target) -> dict[str, Any]:
        groups = r.forget(target, policy.retention(), tags=[f"{POLICY_TAG}{policy.pk}"], prune=prune and not dry_run,
                          dry_run=dry_run)
        kept = sorted(s["id"] for g in groups for s in g.get("keep") or [])
        removed = sorted(s["id"] for g in groups for s in g.get("remove") or [])
        if not dry_run:
            write_inventory(policy.repository, r.snapshots(target))
        return {"kept": kept, "removed": removed}

    return _operate("forget", policy.repository, work, policy=policy, **kw)


def copy_to_archive(policy: Policy, **kw: Any) -> Outcome:
    """``restic copy`` the policy's snapshots into its archive repository (copied ones are skipped), then resync it."""
    archive = policy.archive_repository
    if archive is None:
        return Outcome("copy", False, policy.repository.repo_url, f"policy {policy.name} has no archive repository")

    def work(target: r.Target) -> dict[str, Any]:
        r.copy(target, target_of(policy.repository), tags=[f"{POLICY_TAG}{policy.pk}"])
        listed = r.snapshots(target)
        write_inventory(archive, listed)
        return {"snapshots": len(listed)}

    return _operate("copy", archive, work, policy=policy, **kw)


def check_repository(repository: Repository, read_data_subset: str | None = None, **kw: Any) -> Outcome:
    """``restic check --read-data-subset``: a damaged pack fails the outcome with restic's findings."""
    return _operate("check", repository, lambda t: {"message": r.check(t, read_data_subset)[-2000:],
                                                     "subset": read_data_subset or ""}, **kw)


# --- restore tests ----------------------------------------------------------------------------------------------


#: What one extra restic start costs, in bytes of tar archive one ``restic dump`` streams in the same time.
#: Each restic process derives the repository key (scrypt) and loads the index before it reads any data:
#: 0.4 s (idle) to 1.2 s (load 9) here, while a folder's ``dump --archive tar`` streams 290 MB/s (idle)
#: to 110 MB/s (2 shared CPUs, local repository; measured for issue 16, benchmarks/results/backup-data.md),
#: so one start is worth ~120-130 MB.  A sample is checked file by file when that is cheaper than
#: streaming the folder that holds it (a few files out of a large snapshot), in one archive otherwise.
DUMP_START_BYTES = 128 << 20


def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256_stream(stream: Any) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for chunk in iter(lambda: stream.read(1 << 20), b""):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _folder_of(paths: list[str]) -> str:
    """The smallest folder of the snapshot that holds every one of ``paths`` (files)."""
    return posixpath.commonpath([posixpath.dirname(p) for p in paths])


def _plan_verify(nodes: list[dict[str, Any]], chosen: list[dict[str, Any]], full: bool) -> str:
    """``"archive"`` (one ``dump --archive tar`` of the folder holding the chosen files) or ``"per-file"``.

    A full test always streams one archive.  For a sample, the archive costs one restic start plus the
    bytes restic streams up to the last chosen file (the archive is read in ``restic ls``'s order and
    left as soon as every chosen file was seen); file by file costs one start per file plus their
    bytes.  With a start worth :data:`DUMP_START_BYTES`, the cheaper one is taken; on a tie, file by
    file (so a single file is always dumped alone: the archive would cost the same start).
    """
    if full:
        return "archive"
    folder = _folder_of([n["path"] for n in chosen])
    prefix = "/" if folder == "/" else folder + "/"
    wanted = {n["path"] for n in chosen}
    streamed, seen = 0, 0
    for node in nodes:
        if node.get("type") == "file" and node["path"].startswith(prefix):
            streamed += node.get("size", 0)
            if node["path"] in wanted:
                seen += 1
                if seen == len(wanted):
                    break
    chosen_bytes = sum(n.get("size", 0) for n in chosen)
    return "archive" if streamed - chosen_bytes < (len(chosen) - 1) * DUMP_START_BYTES else "per-file"


def _verify(target: r.Target, snapshot_id: str, folder: str, pending: dict[str, dict[str, Any]], method: str,
            full: bool, scratch: str | None) -> list[str]:
    """Compare each restored file in ``pending`` (snapshot path -> ``ls`` node) with the snapshot's content.

    ``archive``: one ``restic dump --archive tar`` of the smallest folder holding them, read as a stream;
    each chosen member is hashed as it passes and compared with the restored file, whose SHA-256 a
    second thread computes meanwhile (hashlib releases the GIL: restic, the archive and the restored
    files are read side by side on two CPUs).  ``per-file``: one ``restic dump`` per file.
    """
    problems: list[str] = []

    def restored(path: str) -> str:
        return os.path.join(folder, path.lstrip("/"))

    def compare(path: str, stored_digest: str, stored_size: int, restored_digest: str) -> None:
        node = pending.pop(path)
        if stored_size != node.get("size", 0):
            problems.append(f"{path}: {stored_size} bytes in restic dump, {node.get('size')} listed by restic ls")
        elif stored_digest != restored_digest:
            problems.append(f"{path}: checksum differs from the snapshot's content")

    if method == "per-file":
        for path in sorted(pending):
            with tempfile.TemporaryFile(dir=scratch) as stored:
                r.dump(target, snapshot_id, path, stored)
                stored.seek(0)
                digest, size = _sha256_stream(stored)
            compare(path, digest, size, _sha256_file(restored(path)))
        return problems

    dumped = _folder_of(list(pending))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="restore-test-hash") as hasher:
        local = {path: hasher.submit(_sha256_file, restored(path)) for path in sorted(pending)}
        try:
            with r.dump_tar(target, snapshot_id, dumped) as stream, tarfile.open(fileobj=stream, mode="r|") as archive:
                for member in archive:
                    path = r.tar_member_path(member.name)
                    if path not in pending:  # restic >= some version may name members relative to the folder
                        path = posixpath.join(dumped, member.name.lstrip("/"))
                        if path not in pending:
                            continue
                    if not member.isreg():
                        pending.pop(path)
                        problems.append(f"{path}: not a regular file in restic dump's archive")
                        continue
                    digest, size = _sha256_stream(archive.extractfile(member))
                    compare(path, digest, size, local[path].result())
                    if not pending and not full:
                        break  # a sample: the rest of the folder is not needed (restic is stopped)
        except tarfile.TarError as exc:
            problems.append(f"restic dump's archive of {dumped} is unreadable: {exc}")
        finally:
            for future in local.values():
                future.cancel()
    problems.extend(f"{path}: missing from restic dump's archive of {dumped}" for path in sorted(pending))
    return problems


def restore_test(policy: Policy, *, ci_id: int | None = None, snapshot: Snapshot | None = None,
                 sample_size: int | None = None, scratch: str | None = None, **kw: Any) -> Outcome:
    """Restore a sample of a snapshot's files into a scratch folder and compare them with the snapshot's content.

    Each sampled file restored by ``restic restore`` must have the size ``restic ls`` lists and the
    same SHA-256 as the snapshot's content that ``restic dump`` streams from the repository: the
    restore path and the repository's content agree byte for byte.  The content is read in one pass
    (one ``dump --archive tar`` of the folder holding the files) or, for a few files out of a large
    snapshot, one ``dump`` per file (:func:`_plan_verify`).  The restore step's duration is recorded
    on its own (RTO); the verification's next to it (``verify_seconds``).
    """
    repository = policy.repository
    if snapshot is None:
        candidates = Snapshot.objects.filter(repository=repository, policy=policy)
        if ci_id:
            candidates = candidates.filter(ci_id=ci_id)
        snapshot = candidates.order_by("-time").first()
    if snapshot is None:
        outcome = Outcome("restore-test", False, repository.repo_url, f"no snapshot of policy {policy.name} to restore")
        _record_restore_test(outcome, policy, ci_id, None)
        return outcome
    ci_id = ci_id or snapshot.ci_id
    size = policy.restore_sample_size if sample_size is None else sample_size

    def work(target: r.Target) -> dict[str, Any]:
        nodes = r.ls(target, snapshot.snapshot_id)
        files = [n for n in nodes if n.get("type") == "file"]
        if not files:
            raise r.ResticError(target.url, f"snapshot {snapshot.short_id} contains no files")
        full = not 0 < size < len(files)
        chosen = sorted(files if full else random.Random(snapshot.snapshot_id).sample(files, size),
                        key=lambda n: n["path"])
        folder = tempfile.mkdtemp(prefix="cmdb-restore-test-", dir=scratch)
        try:
            clock = time.monotonic()
            r.restore(target, snapshot.snapshot_id, folder, includes=None if full else [n["path"] for n in chosen])
            restore_seconds = time.monotonic() - clock
            clock = time.monotonic()
            problems, pending = [], {}
            for node in chosen:
                restored = os.path.join(folder, node["path"].lstrip("/"))
                if not os.path.isfile(restored) or os.path.islink(restored):
                    problems.append(f"{node['path']}: not restored")
                elif os.path.getsize(restored) != node.get("size", 0):
                    problems.append(f"{node['path']}: {os.path.getsize(restored)} bytes restored, "
                                    f"{node.get('size')} in the snapshot")
                else:
                    pending[node["path"]] = node
            method = _plan_verify(nodes, chosen, full)
            if pending:
                problems += _verify(target, snapshot.snapshot_id, folder, pending, method, full, scratch)
            verify_seconds = time.monotonic() - clock
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if problems:
            raise r.ResticError(target.url, f"restored files differ ({len(problems)} of {len(chosen)}): "
                                + "; ".join(problems[:20]))
        total = sum(n.get("size", 0) for n in chosen)
        return {"snapshot_id": snapshot.snapshot_id, "files": len(chosen), "bytes": total,
                "restore_seconds": restore_seconds, "verify_seconds": verify_seconds, "verify": method,
                "message": f"{len(chosen)} files ({total} bytes) restored in {restore_seconds:.1f} s, identical to "
                           f"snapshot {snapshot.short_id} (verified in {verify_seconds:.1f} s, "
                           f"{'one restic dump archive' if method == 'archive' else 'restic dump per file'})"}

    outcome = _operate("restore-test", repository, work, policy=policy, ci_id=ci_id, **kw)
    _record_restore_test(outcome, policy, ci_id, snapshot)
    return outcome


def _record_restore_test(outcome: Outcome, policy: Policy, ci_id: int | None, snapshot: Snapshot | None) -> None:
    RestoreTest.objects.create(
        ci_id=ci_id, backup_snapshot=snapshot, repository=policy.repository,
        restic_id=snapshot.snapshot_id if snapshot else "", passed=outcome.ok, tested_at=timezone.now(),
        duration=outcome.details.get("restore_seconds", outcome.duration),
        files_checked=outcome.details.get("files") or 0, bytes_checked=outcome.details.get("bytes") or 0,
        message=outcome.message[:10000])


def last_success(ci_ids: list[int] | None = None) -> dict[int, dt.datetime]:
    """Newest snapshot time per CI (one aggregate query)."""
    from django.db.models import Max

    qs = Snapshot.objects.exclude(ci_id=None)
    if ci_ids is not None:
        qs = qs.filter(ci_id__in=ci_ids)
    return dict(qs.values("ci_id").annotate(t=Max("time")).values_list("ci_id", "t"))
