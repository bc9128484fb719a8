"""The CMDB backs itself up (pg_dump into restic) and ``cmdb restore`` puts it into an empty PostgreSQL
database, where ``cmdb audit verify`` passes on the restored change log."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from backup import selfbackup, services
from backup.models import Repository, Run
from cmdb.core.context import change_logging
from cmdb.core.models import ObjectChange
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def empty_database() -> Any:
    if connection.vendor != "postgresql":
        pytest.skip("the PostgreSQL self-backup needs PostgreSQL (DATABASE_URL)")
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump/pg_restore are not installed")
    s = connection.settings_dict
    name = f"{s['NAME']}_restored"
    admin = dict(host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, user=s["USER"], password=s["PASSWORD"] or None,
                 dbname="postgres", autocommit=True)
    with psycopg.connect(**admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    password = f":{s['PASSWORD']}" if s["PASSWORD"] else ""
    yield f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"
    with psycopg.connect(**admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_cmdb_restores_itself_and_the_audit_chain_verifies(empty_database: str, tmp_path: Path,
                                                               secrets_env: dict[str, str]) -> None:
    repo = Repository(name="self", repo_url=str(tmp_path / "self"), password_ref=secrets_env["primary"])
    repo.validated_save()
    with change_logging(source="test"):
        for i in range(3):
            factories.device(f"srv-self-{i}")
    assert services.init_repository(repo).ok
    changes = ObjectChange.objects.count()  # what the dump will hold (runs are change-logged too)
    assert changes > 0
    outcome = selfbackup.backup_database(repo)
    assert outcome.ok, outcome.message
    assert Run.objects.filter(operation="self-backup", status="success").exists()

    call_command("restore", "--repository", "self", "--target", empty_database)
    env = {**os.environ, "DATABASE_URL": empty_database,
           "CMDB_AUDIT_CHECKPOINT_FILE": str(tmp_path / "no-checkpoints.log")}
    cmdb = [sys.executable, "-c", "from cmdb.cli import main; main()"]
    verified = subprocess.run([*cmdb, "audit", "verify", "--quiet"], env=env, capture_output=True, text=True,
                              timeout=300)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    count = subprocess.run([*cmdb, "shell", "-c", "from cmdb.core.models import ObjectChange as O; "
                            "from cmdb.dcim.models import Device as D; print(O.objects.count(), "
                            "sorted(D.objects.values_list('name', flat=True)))"],
                           env=env, capture_output=True, text=True, timeout=300)
    assert count.stdout.splitlines()[-1].split()[0] == str(changes), count.stdout + count.stderr
    assert "srv-self-2" in count.stdout

    # Disaster: the CMDB's database is gone; the repository alone is enough.
    with pytest.raises(CommandError, match="Restore failed"):  # not into a database that already holds it
        call_command("restore", "--repo-url", repo.repo_url, "--password-ref", secrets_env["primary"],
                     "--target", empty_database)
    with pytest.raises(CommandError, match="wrong password"):
        call_command("restore", "--repo-url", repo.repo_url, "--password-ref", secrets_env["wrong"],
                     "--target", empty_database)


ROOT = Path(__file__).resolve().parents[2]


def _cmdb(args: list[str], env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from cmdb.cli import main; main()", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_the_sqlite_cmdb_backs_itself_up_on_schedule_and_restores_into_an_empty_data_dir(tmp_path: Path) -> None:
    """The product's default database: a CMDB on SQLite (its own data dir) with a repository configured for
    the self-backup has the schedule without anyone creating it; the job backs up through SQLite's online
    backup API; ``cmdb restore`` puts the file into an empty data dir, where ``cmdb audit verify`` passes."""
    from tests.backup.conftest import PASSWORD

    src, dst, tool = tmp_path / "src", tmp_path / "dst", tmp_path / "tool"
    dst.mkdir()
    base = {k: v for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "REDIS_URL") and not k.startswith("CMDB_AUDIT_KEY")}
    base.update({"CMDB_RESTIC_PASSWORD": PASSWORD, "CMDB_AUDIT_CHECKPOINT_FILE": str(tmp_path / "checkpoints.log")})
    env = {**base, "CMDB_DATA_DIR": str(src), "CMDB_SELF_BACKUP_REPOSITORY": "self",
           "CMDB_SELF_BACKUP_CRON": "15 3 * * *"}
    migrated = _cmdb(["migrate", "--no-input", "-v", "0"], env)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    made = _cmdb(["shell", "-c", (
        "from cmdb.core.context import change_logging\n"
        "from backup.models import Repository\n"
        "from tests import factories\n"
        "with change_logging(source='test'):\n"
        f"    Repository(name='self', repo_url={str(tmp_path / 'repo')!r}, "
        "password_ref='env:CMDB_RESTIC_PASSWORD').validated_save()\n"
        "    [factories.device(f'sqlite-{i}') for i in range(3)]\n"
        "from cmdb.jobs.models import Schedule\n"
        "s = Schedule.objects.get(name=\"backup: the CMDB's own database\")\n"
        "print('SCHEDULE', s.job_name, s.cron, s.kwargs['repository'], s.enabled)\n"
        "from cmdb.core.models import ObjectChange\n"
        "print('BEFORE', ObjectChange.objects.count())\n")], env)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "SCHEDULE backup.self 15 3 * * * self True" in made.stdout

    ran = _cmdb(["job", "run", "backup.self", "--arg", "repository=self"], env)  # the repository is initialised
    assert ran.returncode == 0, ran.stdout + ran.stderr
    counted = _cmdb(["shell", "-c", "from cmdb.core.models import ObjectChange as O; "
                     "from backup.models import Run, Snapshot; print('COUNT', O.objects.count(), "
                     "Run.objects.filter(operation='self-backup', status='success').count(), "
                     "sum('cmdb-self' in s.restic_tags for s in Snapshot.objects.all())); "
                     "from backup.metrics import collect; "
                     "m = [f for f in collect() if f.name == 'cmdb_backup_self_last_success_timestamp_seconds'][0]; "
                     "print('METRIC', [s.labels['repository'] for s in m.samples])"], env)
    assert "COUNT" in counted.stdout, counted.stdout + counted.stderr
    changes, runs, snaps = counted.stdout.split("COUNT")[1].split("\n")[0].split()
    assert (runs, snaps) == ("1", "1"), counted.stdout + counted.stderr
    assert "METRIC ['self']" in counted.stdout  # what CMDBBackupTooOld watches (backup/rules)

    # Disaster: the data dir is gone; the repository, its password and the audit key (kept apart) remain.
    restore = ["restore", "--repo-url", str(tmp_path / "repo"), "--password-ref", "env:CMDB_RESTIC_PASSWORD",
               "--target", f"sqlite:///{dst / 'cmdb.sqlite3'}"]
    done = _cmdb(restore, {**base, "CMDB_DATA_DIR": str(tool)})
    assert done.returncode == 0, done.stdout + done.stderr
    shutil.copy(src / "audit.key", dst / "audit.key")
    restored = {**base, "CMDB_DATA_DIR": str(dst)}
    verified = _cmdb(["audit", "verify", "--quiet"], restored)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    again = _cmdb(["shell", "-c", "from cmdb.core.models import ObjectChange as O; from cmdb.dcim.models import "
                   "Device as D; print('COUNT', O.objects.count(), sorted(D.objects.values_list('name', flat=True)))"],
                  restored)
    # Everything logged before the job started is in the dump; what the job itself logged after the dump is not.
    before = int(made.stdout.split("BEFORE")[1].split()[0])
    assert before <= int(again.stdout.split("COUNT")[1].split()[0]) < int(changes), again.stdout + again.stderr
    assert "sqlite-2" in again.stdout
    # Never over a database that exists.
    refused = _cmdb(restore, {**base, "CMDB_DATA_DIR": str(tool)})
    assert refused.returncode != 0 and "not empty" in refused.stderr
