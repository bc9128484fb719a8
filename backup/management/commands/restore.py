"""``cmdb restore``: put a self-backup of the CMDB (``backup.selfbackup``) into an empty PostgreSQL database
(``--target postgres://…``) or an empty data dir's SQLite file (``--target sqlite:////data/cmdb.sqlite3``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from backup import restic as r
from backup import selfbackup
from backup.models import Repository
from cmdb.core.secrets import SecretUnavailable


class Command(BaseCommand):
    help = ("Restore the CMDB's own database from a restic repository into an EMPTY PostgreSQL database or an "
            "empty data dir (SQLite). Then point DATABASE_URL (or CMDB_DATA_DIR) at it, give it the audit key, "
            "and run 'cmdb audit verify'.")

    #: The source database may be gone (that is why one restores): no checks that need it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--repository", help="name of the backup repository in the CMDB (if it still answers)")
        source.add_argument("--repo-url", help="the restic repository itself, when the CMDB's database is gone")
        parser.add_argument("--password-ref", help="with --repo-url: env:NAME or file:/path of its password")
        parser.add_argument("--target", required=True, help="postgres://user@host:port/empty_database or "
                            "sqlite:////new/data/dir/cmdb.sqlite3 (the file must not exist yet)")
        parser.add_argument("--snapshot", default="latest", help="restic snapshot id (default: newest self-backup)")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["repo_url"]:
            if not opts["password_ref"]:
                raise CommandError("--repo-url needs --password-ref (env:NAME or file:/path).")
            repository = Repository(name="restore", repo_url=opts["repo_url"], password_ref=opts["password_ref"])
        else:
            repository = Repository.objects.filter(name=opts["repository"]).first()
            if repository is None:
                raise CommandError(f"No repository named {opts['repository']!r}.")
        try:
            if opts["target"].startswith("sqlite:"):
                selfbackup.restore_sqlite(repository, opts["target"], opts["snapshot"])
            else:
                selfbackup.restore_postgresql(repository, opts["target"], opts["snapshot"])
        except (r.ResticError, RuntimeError, ValueError, SecretUnavailable) as exc:
            raise CommandError(f"Restore failed: {exc}") from None
        if opts["target"].startswith("sqlite:"):
            self.stdout.write(f"Restored into {opts['target']}. Next: CMDB_DATA_DIR=<its folder> (with the audit "
                              "key) cmdb audit verify")
        else:
            self.stdout.write(f"Restored into {opts['target'].rpartition('@')[2]}. "
                              "Next: DATABASE_URL=<target> cmdb audit verify")
