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
