"""Audit checkpoints into the backup archive: a sink of :mod:`cmdb.core.checkpoints`.

Why here: a checkpoint is worth what the place it is kept is worth.  The archive repository is served
append-only (``rclone serve restic --append-only``, see docs/backup.md): nobody with the CMDB's
credentials -- or its database -- can delete what was written there.  Each checkpoint line becomes one
small snapshot (``restic backup --stdin``, file :data:`CHECKPOINT_FILE`, tag :data:`CHECKPOINT_TAG`,
host ``cmdb``), so a deleted tail of the change log stays provable from the archive alone.

The sink is **write-only** for ``cmdb audit verify`` (like syslog): reading every checkpoint back means
one ``restic dump`` each, which is for an investigation, not for every verify run --
:func:`archived_checkpoints` does it on demand.  Configure it with ``CMDB_AUDIT_CHECKPOINT_ARCHIVE``, the
name of a repository in the CMDB.  A write that fails (unreachable backend, wrong password) is reported
by ``cmdb audit checkpoint`` and the scheduler like any failing sink; the other sinks are still written.
"""

from __future__ import annotations

import tempfile
from typing import Any

from django.conf import settings

from cmdb.core.secrets import SecretUnavailable

from . import restic as r

CHECKPOINT_TAG = "cmdb-audit-checkpoint"
CHECKPOINT_FILE = "/cmdb-audit-checkpoint.jsonl"


class ArchiveSink:
    """One snapshot per checkpoint line in the restic repository named ``repository``."""

    name = "backup-archive"

    def __init__(self, repository: str) -> None:
        self.repository = repository

    def describe(self) -> str:
        return f"restic repository {self.repository}"

    def _repository(self) -> Any:
        from .models import Repository

        found = Repository.objects.filter(name=self.repository).first()
        if found is None:
            raise ValueError(f"no repository named {self.repository!r} (CMDB_AUDIT_CHECKPOINT_ARCHIVE)")
        return found

    def write(self, line: str) -> None:
        from .services import target_of

        repository = self._repository()
        try:
            target = target_of(repository)
            with tempfile.TemporaryFile() as body:
                body.write((line.replace("\n", " ") + "\n").encode())
                body.seek(0)
                r.backup_stdin(target, body, CHECKPOINT_FILE.lstrip("/"), tags=[CHECKPOINT_TAG], host="cmdb")
        except (r.ResticError, SecretUnavailable) as exc:  # the core reports OSError/ValueError per sink
            raise OSError(str(exc)) from exc


def archived_checkpoints(repository: Any) -> list[str]:
    """Every checkpoint line in ``repository``, oldest first (one ``restic dump`` per checkpoint)."""
    from .services import target_of

    target = target_of(repository)
    listed = sorted((s for s in r.snapshots(target) if CHECKPOINT_TAG in (s.get("tags") or [])),
                    key=lambda s: s["time"])
    lines = []
    for snapshot in listed:
        with tempfile.TemporaryFile() as out:
            r.dump(target, snapshot["id"], CHECKPOINT_FILE, out)
            out.seek(0)
            lines += [x for x in out.read().decode("utf-8", "replace").splitlines() if x.strip()]
    return lines


def archive_sink() -> ArchiveSink | None:
    """The sink as configured now (``CMDB_AUDIT_CHECKPOINT_ARCHIVE``), or None."""
    name = str(getattr(settings, "CMDB_AUDIT_CHECKPOINT_ARCHIVE", "") or "")
    return ArchiveSink(name) if name else None
