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
from typing import Any
from urllib.parse import unquote, urlparse

from django.db import connection

from . import restic as r
from .models import Repository
from .services import Outcome, _operate, target_of

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
