"""The CMDB backs itself up: its own database, dumped into a restic repository, and restored from it.

PostgreSQL is dumped with ``pg_dump --format=custom`` (consistent, restorable table by table, into an
empty database with ``pg_restore``); SQLite with its online backup API.  The connection parameters
reach ``pg_dump`` through its environment (``PGHOST``, ``PGPASSWORD`` ...), never through a command
line or a record, so the database password is neither stored nor visible in the process list.

The snapshot carries the tag ``cmdb-self`` and holds one file, :data:`PG_FILE` or :data:`SQLITE_FILE`.
``cmdb restore`` (``backup/management/commands/restore.py``) is the documented way back.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from django.db import connection

from . import restic as r
from .models import Repository
from .services import Outcome, _operate, init_repository, sync_inventory, target_of

SELF_TAG = "cmdb-self"
PG_FILE = "/cmdb.pgdump"
SQLITE_FILE = "/cmdb.sqlite3"


def _pg_env(settings_dict: dict[str, Any]) -> dict[str, str]:
    env = {**os.environ}
    for key, name in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD"),
                      ("NAME", "PGDATABASE")):
        if settings_dict.get(key):
            env[name] = str(settings_dict[key])
    return env


def pg_env_from_url(url: str) -> dict[str, str]:
    """``PG*`` variables for a ``postgres://user:password@host:port/name`` URL (the restore target)."""
    parts = urlparse(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql") or not parts.path.strip("/"):
        raise ValueError("Give the target as postgres://user@host:port/database")
    return _pg_env({"HOST": parts.hostname, "PORT": parts.port, "USER": unquote(parts.username or ""),
                    "PASSWORD": unquote(parts.password or ""), "NAME": parts.path.strip("/")})


def backup_database(repository: Repository, **kw: Any) -> Outcome:
    """Dump the CMDB's own database into ``repository`` (a snapshot tagged ``cmdb-self``)."""

    def work(target: r.Target) -> dict[str, Any]:
        if connection.vendor == "postgresql":
            summary = r.backup_command(target, ["pg_dump", "--format=custom", "--no-owner"], PG_FILE.lstrip("/"),
                                       what="pg_dump", tags=[SELF_TAG], host="cmdb",
                                       env=_pg_env(connection.settings_dict))
        elif connection.vendor == "sqlite":
            folder = tempfile.mkdtemp(prefix="cmdb-self-")
            try:
                copy = os.path.join(folder, SQLITE_FILE.lstrip("/"))
                connection.ensure_connection()
                with sqlite3.connect(copy) as out:
                    connection.connection.backup(out)  # SQLite's online backup API: a consistent copy
                with open(copy, "rb") as handle:
                    summary = r.backup_stdin(target, handle, SQLITE_FILE.lstrip("/"), tags=[SELF_TAG], host="cmdb")
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        else:
            raise r.ResticError(target.url, f"no self-backup for a {connection.vendor} database")
        return {"snapshot_id": summary.get("snapshot_id", ""), "bytes": summary.get("total_bytes_processed")}

    return _operate("self-backup", repository, work, **kw)


def restore_postgresql(repository: Repository, database_url: str, snapshot: str = "latest") -> None:
    """Restore the newest (or ``snapshot``) self-backup into the empty PostgreSQL database ``database_url``.

    Raises :class:`backup.restic.ResticError` or ``RuntimeError`` with pg_restore's message on failure.
    """
    target = target_of(repository)
    env = pg_env_from_url(database_url)
    with tempfile.TemporaryDirectory(prefix="cmdb-restore-") as folder:
        path = os.path.join(folder, "cmdb.pgdump")
        chosen = snapshot
        if snapshot == "latest":
            listed = [s for s in r.snapshots(target) if SELF_TAG in (s.get("tags") or [])]
            if not listed:
                raise r.ResticError(target.url, "no self-backup (tag cmdb-self) in this repository")
            chosen = max(listed, key=lambda s: s["time"])["id"]
        with open(path, "wb") as out:
            r.dump(target, chosen, PG_FILE, out)
        result = subprocess.run(  # noqa: S603 (an argument list, no shell)
            ["pg_restore", "--no-owner", "--exit-on-error", "--dbname", env["PGDATABASE"], path],  # noqa: S607
            env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"pg_restore failed (exit {result.returncode}): {result.stderr[-2000:]}")


#: restic's words for "there is no repository here (yet)": the scheduled self-backup initialises it then.
_NO_REPOSITORY = ("Is there a repository at the following location?", "repository does not exist",
                  "unable to open config file")


def scheduled_self_backup(repository_name: str, *, log: Callable[[str], None] = print,
                          retention: dict[str, int] | None = None) -> Outcome:
    """The ``backup.self`` job: back up, initialising the repository on first use, apply the self-backup's
    retention to the ``cmdb-self`` snapshots only, and resync the repository's inventory."""
    from .jobs import DEFAULT_RETENTION

    repository = Repository.objects.filter(name=repository_name).first()
    if repository is None:
        return Outcome("self-backup", False, "", f"no repository named {repository_name!r} in the CMDB "
                       "(CMDB_SELF_BACKUP_REPOSITORY)")
    outcome = backup_database(repository)
    if not outcome.ok and any(marker in outcome.message for marker in _NO_REPOSITORY):
        log(f"repository {repository.name} is not initialised: restic init")
        started = init_repository(repository)
        if not started.ok:
            return started
        outcome = backup_database(repository)
    if not outcome.ok:
        return outcome
    log(f"self-backup {outcome.details.get('snapshot_id', '')[:8]} ({outcome.details.get('bytes')} bytes)")
    keep = retention or DEFAULT_RETENTION
    forgot = _operate("forget", repository, lambda t: {"removed": sorted(
        s["id"] for g in r.forget(t, keep, tags=[SELF_TAG], prune=True) for s in g.get("remove") or [])})
    log(f"retention {keep}: {len(forgot.details.get('removed', []))} old self-backups forgotten"
        if forgot.ok else f"retention failed: {forgot.message}")
    synced = sync_inventory(repository)
    if not synced.ok:
        log(f"inventory sync failed: {synced.message}")
    return outcome


def _sqlite_path(target: str) -> Path:
    """The file a ``sqlite:///abs/path`` target names; it must not exist yet, or be empty (a fresh data dir)."""
    parts = urlparse(target)
    if parts.scheme != "sqlite" or not parts.path or not parts.path.startswith("/"):
        raise ValueError("Give the target as sqlite:////absolute/path/cmdb.sqlite3")
    path = Path(unquote(parts.path))
    if path.exists() and path.stat().st_size > 0:
        raise ValueError(f"{path} exists and is not empty: restore into an empty data dir")
    if not path.parent.is_dir():
        raise ValueError(f"{path.parent} is not a folder")
    return path


def restore_sqlite(repository: Repository, target: str, snapshot: str = "latest") -> Path:
    """Restore the newest (or ``snapshot``) SQLite self-backup to the path of ``sqlite:///…`` ``target``.

    The file is written next to the target, checked with ``PRAGMA integrity_check`` and then renamed into
    place, so an interrupted or damaged restore never leaves a half-written database where the CMDB looks.
    """
    path = _sqlite_path(target)
    backend = target_of(repository)
    chosen = snapshot
    if snapshot == "latest":
        listed = [s for s in r.snapshots(backend) if SELF_TAG in (s.get("tags") or [])
                  and SQLITE_FILE in (s.get("paths") or [SQLITE_FILE])]
        if not listed:
            raise r.ResticError(backend.url, "no SQLite self-backup (tag cmdb-self) in this repository")
        chosen = max(listed, key=lambda s: s["time"])["id"]
    fd, partial = tempfile.mkstemp(prefix=".cmdb-restore-", suffix=".sqlite3", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            r.dump(backend, chosen, SQLITE_FILE, out)
            out.flush()
            os.fsync(out.fileno())
        with sqlite3.connect(partial) as db:
            verdict = db.execute("PRAGMA integrity_check").fetchone()
        if not verdict or verdict[0] != "ok":
            raise RuntimeError(f"the restored database fails SQLite's integrity check: {verdict}")
        os.chmod(partial, 0o600)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return path
