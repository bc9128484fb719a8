"""A database made by the code before the layout change migrates forward with the new tree.

Moving an app's migrations to another package keeps its label, so an existing database must
need nothing: this test builds one with the old tree (commit ``e70df99``, taken with
``git archive``, run with this venv's Python and ``PYTHONPATH`` pointing at it), puts rows in
through the old code -- a change-logged device, a discovery report through the old ingest, a
monitor -- then runs the new tree's ``migrate`` (which applies only migrations written after that
commit: none of the moved apps' migrations runs again), ``audit verify`` and a read of
those rows through the moved apps, and ``makemigrations --check`` (no model change lacks a
migration).  One SQLite file in a temporary folder, two processes (one per tree), no network.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: main just before the layout change (issue 13).
BEFORE = "e70df99"

OLD_DATA = """
import cmdb
assert cmdb.__file__.startswith({old!r}), cmdb.__file__
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
from cmdb.core.context import change_logging
from cmdb.dcim.models import Device, DeviceRole, DeviceType, Manufacturer, Site
from cmdb.discovery.services import ingest_report
from cmdb.monitoring.models import ExporterType, Monitor
from discovery.report import new_report

with change_logging(source="cli"):
    site = Site.objects.create(name="Zittau", slug="zittau")
    maker = Manufacturer.objects.create(name="Dell", slug="dell")
    dtype = DeviceType.objects.create(model="R650", slug="r650", manufacturer=maker)
    role = DeviceRole.objects.create(name="Server", slug="server")
    device = Device.objects.create(name="web01", site=site, device_type=dtype, role=role, serial="SN-1")
    node = ExporterType.objects.create(name="Node exporter", slug="node", port=9100)
    Monitor.objects.create(ci_id=device.ci_id, exporter_type=node)
report = new_report("agent", "before-the-move")
report["identifiers"] = {{"serial": "SN-1", "manufacturer": "Dell", "hostname": "web01"}}
report["attributes"] = {{"hostname": "web01", "os_name": "Debian GNU/Linux"}}
print("ingested", ingest_report(report).action)

# Reconcile runs as the old code kept them: status, timings and error on the run itself; a job only
# for queued runs (and it said "completed" when the run failed on a target).
from django.utils import timezone
from cmdb.jobs.models import Job
from cmdb.reconcile.models import ReconcileRun
t = timezone.now()
ReconcileRun.objects.create(reconciler="ansible", scope="all", status="completed", started=t, finished=t,
                            duration=2.5)
queued = Job.objects.create(name="reconcile.run", status="completed", started=t, finished=t, duration=3.0)
ReconcileRun.objects.create(reconciler="ansible", scope="tag:web", status="failed", error="web01 unreachable",
                            job=queued, started=t, finished=t)
ReconcileRun.objects.create(reconciler="ansible", scope="ci:1", status="running", started=t)
"""

NEW_READ = """
import io
import discovery, monitoring
assert discovery.__file__.startswith({new!r}), discovery.__file__
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
out = io.StringIO()
call_command("migrate", interactive=False, stdout=out)
print("migrate:", out.getvalue().replace("\\n", " "))
executor = MigrationExecutor(connection)
print("pending:", len(executor.migration_plan(executor.loader.graph.leaf_nodes())))
out = io.StringIO()
call_command("audit", "verify", stdout=out)
print("audit:", out.getvalue().splitlines()[0])
call_command("makemigrations", check=True, dry_run=True, verbosity=0)  # exits 1 on a missing migration
from cmdb.dcim.models import Device
from discovery.models import Host, IngestRecord
from monitoring.models import Monitor
from cmdb.reconcile.models import ReconcileRun
# Every run has its job now, which holds its status, timings and error.
for run in ReconcileRun.objects.select_related("job").order_by("pk"):
    print("run", run.scope, run.job.name, run.status, run.duration, run.error[:20].replace(" ", "_") or "-")
device = Device.objects.get(name="web01")
host = Host.objects.get(device=device)
print("read", device.serial, host.os_name, Monitor.objects.get(ci_id=device.ci_id).exporter_type.slug,
      IngestRecord.objects.filter(source_name="before-the-move").count())
"""


def _run(tree: Path, env: dict[str, str], *args: str) -> str:
    code = "import sys; from cmdb.cli import main; main(sys.argv[1:])"
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=tree, env={**env, "PYTHONPATH": str(tree)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{tree.name}: cmdb {args[0]}: {done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def test_a_database_of_the_old_layout_migrates_forward(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", BEFORE, "cmdb", "discovery"],
                             capture_output=True, check=True, timeout=120).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(old, filter="data")
    assert (old / "cmdb" / "monitoring" / "migrations").is_dir()  # really the layout before the move
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    env["CMDB_DATA_DIR"] = str(tmp_path / "data")  # one SQLite file (and audit key) for both trees

    assert "ingested create" in _run(old, env, "shell", "-c", OLD_DATA.format(old=str(old)))

    out = _run(ROOT, env, "shell", "-c", NEW_READ.format(new=str(ROOT))).splitlines()
    migrate = next(line for line in out if line.startswith("migrate:"))
    applied = set(re.findall(r"Applying (\w+)\.(\w+)\.\.\.", migrate))
    # Labels stayed as they were; the old tree kept the Ansible app in cmdb/ansible (label cmdb_ansible).
    old_labels = {"ansible": "cmdb_ansible"}
    existed = {(old_labels.get(path.parent.parent.name, path.parent.parent.name), path.stem)
               for path in (old / "cmdb").glob("*/migrations/0*.py")}
    assert existed, "the old tree has migrations"
    assert not applied & existed, f"migrations of the old tree applied again: {sorted(applied & existed)}"
    assert "No migrations to apply." in migrate or applied, migrate
    assert "pending: 0" in out, out
    assert any(line.startswith("audit: Change log intact:") and " 0 records" not in line for line in out), out
    assert out[-1].split() == ["read", "SN-1", "Debian", "GNU/Linux", "node", "1"], out
    runs = [line.split() for line in out if line.startswith("run ")]
    assert runs == [
        ["run", "all", "reconcile.run", "completed", "2.5", "-"],  # a foreground run: a job made for it
        ["run", "tag:web", "reconcile.run", "failed", "3.0", "web01_unreachable"],  # the run's status wins
        ["run", "ci:1", "reconcile.run", "failed", "None", "The_run_was_recorded"],  # could never finish
    ], out
