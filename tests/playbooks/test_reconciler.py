"""The Ansible reconciler with real ansible-playbook runs (ansible-runner) against local hosts.

Each inventory host is localhost (``ansible_connection=local``) managing its own root folder
under tmp (``cmdb_root``), so plans, applies and hand-made drift are real file-system effects.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from cmdb.jobs.models import Job, Schedule
from cmdb.jobs.scheduler import scheduler_tick
from cmdb.jobs.worker import run_tasks
from cmdb.reconcile.models import CIDrift, ReconcileRun
from cmdb.reconcile.selectors import drift_for_ci
from cmdb.reconcile.services import run_execute
from tests import factories as f
from tests.jobs.conftest import DB_TASKS

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("ansible-playbook", path=str(Path(sys.executable).parent)) is None,
                       reason="ansible-playbook (ansible-core) is not installed in this environment"),
]

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMcmdbTestKeyOnlyForTestsXXXXXXXXXXXXXXXXXX alice@example.org"


def _hosts(tmp_path: Path) -> dict[str, Any]:
    site, dtype, role = f.site("Zittau"), f.device_type("R650", maker=f.manufacturer("Dell")), f.role("Server")
    owner = f.contact("Alice Admin", custom_field_data={"ssh_keys": KEY})
    f.tag("Managed")
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    hosts = {}
    for name in ("web01", "web02", "db01"):
        hosts[name] = f.device(name, at=site, dtype=dtype, as_role=role, owner=owner, description=f"{name} server",
                               local_context_data={**local, "cmdb_root": str(tmp_path / name)})
    # A broken variable: the NTP template cannot render for this host only.
    hosts["bad01"] = f.device("bad01", at=site, dtype=dtype, as_role=role, local_context_data={
        **local, "cmdb_root": str(tmp_path / "bad01"), "cmdb_ntp_servers": "{{ no_such_variable }}"})
    return hosts


def _run(dry_run: bool) -> ReconcileRun:
    return run_execute(ReconcileRun.objects.create(reconciler="ansible", scope="all", dry_run=dry_run))


def _drift(device: Any) -> CIDrift:
    return CIDrift.objects.get(reconciler="ansible", ci_id=device.ci_id)


def test_plan_apply_verify_and_scheduled_drift_detection(tmp_path: Path, superuser: Any, settings: Any) -> None:
    settings.TASKS = DB_TASKS
    hosts = _hosts(tmp_path)

    # Dry run: a plan per host with diffs, nothing on disk, nothing in the CMDB.
    dry = _run(dry_run=True)
    assert dry.status == "failed" and dry.failed_count == 1  # bad01 only
    assert dry.remaining_drift is None and dry.applied_count == 0
    assert not any((tmp_path / n).exists() for n in hosts)
    motd = dry.actions.get(target="web01", resource="Write the message of the day")
    assert "+web01 — managed by the CMDB" in motd.diff and motd.outcome == "planned"
    assert dry.plan.fingerprint and dry.options == {}
    assert dry.actions.filter(target="web02").count() == dry.actions.filter(target="web01").count() >= 5
    # bad01 plans the tasks before its broken one, then fails; the others are unaffected.
    assert not dry.actions.filter(target="bad01", resource="Configure NTP servers").exists()
    assert _drift(hosts["web01"]).status == "drifted" and _drift(hosts["web01"]).drift_items >= 5
    assert _drift(hosts["bad01"]).status == "failed"
    assert "no_such_variable" in _drift(hosts["bad01"]).message
    assert all(d.last_seen is None for d in type(hosts["web01"]).objects.all())  # write-back rolled back

    # Apply: the good hosts converge, the broken one fails alone; verify finds nothing left.
    applied = _run(dry_run=False)
    assert applied.failed_count == 1 and applied.remaining_drift == 0
    assert applied.applied_count >= 15
    assert applied.summary["bad01"]["status"] == "failed" and applied.summary["web02"]["status"] == "ok"
    for name in ("web01", "web02", "db01"):
        root = tmp_path / name
        assert (root / "etc/motd").read_text().startswith(f"{name} — managed by the CMDB")
        assert json.loads((root / "etc/cmdb.json").read_text())["ci_id"] == hosts[name].ci_id
        assert "server 0.debian.pool.ntp.org iburst" in (root / "etc/chrony/chrony.conf").read_text()
        assert KEY in (root / "root/.ssh/authorized_keys").read_text()
        assert "--web.listen-address=:9100" in (root / "etc/default/prometheus-node-exporter").read_text()
        assert _drift(hosts[name]).status == "in_sync"
    assert not (tmp_path / "bad01/etc/chrony/chrony.conf").exists()
    # Per item, from each task's result: every planned task ran and changed its host, bad01's too (its
    # broken task was never a plan item: the check run failed there, which the target's outcome says).
    assert set(applied.actions.values_list("outcome", flat=True)) == {"ok"}
    assert applied.actions.filter(target="bad01").exists()
    hosts["web01"].refresh_from_db()
    assert hosts["web01"].last_seen is not None

    # A second apply has nothing to do.
    again = _run(dry_run=False)
    assert again.drift_count == 0 and again.applied_count == 0 and again.remaining_drift == 0

    # Drift by hand, found by the next scheduled dry run and shown per CI.
    (tmp_path / "web02/etc/motd").write_text("hacked by hand\n")
    schedule = Schedule(name="nightly baseline check", job_name="reconcile.run", cron="0 3 * * *",
                        kwargs={"reconciler": "ansible", "scope": "all", "dry_run": True})
    schedule.validated_save()
    Schedule.objects.filter(pk=schedule.pk).update(created=timezone.now() - dt.timedelta(days=2))
    [job] = scheduler_tick(holder="test-scheduler")
    run_tasks(holder="test-worker", burst=True, fork=False)
    job = Job.objects.get(pk=job.pk)
    # bad01's check run fails, so the run fails, and its job is the run's record: failed, naming bad01.
    assert job.status == "failed" and "bad01" in job.error and job.result["run_id"], job.error
    scheduled = ReconcileRun.objects.get(pk=job.result["run_id"])
    assert scheduled.schedule_id == schedule.pk and scheduled.dry_run
    [item] = scheduled.actions.filter(target="web02")
    assert item.resource == "Write the message of the day"
    assert "-hacked by hand" in item.diff and "+web02 — managed by the CMDB" in item.diff
    assert (tmp_path / "web02/etc/motd").read_text() == "hacked by hand\n"  # a dry run changes nothing
    [shown] = drift_for_ci(hosts["web02"].ci_id, user=superuser)
    assert shown["status"] == "drifted" and shown["drift_items"] == 1
    assert shown["items"][0]["resource"] == "Write the message of the day"
    assert drift_for_ci(hosts["web01"].ci_id, user=superuser)[0]["status"] == "in_sync"


def _facts_hosts(tmp_path: Path) -> dict[str, Any]:
    """web01 (good) and bad01 (its NTP template cannot render), both this machine over a local connection."""
    site, dtype, role = f.site("Zittau"), f.device_type("R650", maker=f.manufacturer("Dell")), f.role("Server")
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    return {
        "web01": f.device("web01", at=site, dtype=dtype, as_role=role,
                          local_context_data={**local, "cmdb_root": str(tmp_path / "web01")}),
        "bad01": f.device("bad01", at=site, dtype=dtype, as_role=role, local_context_data={
            **local, "cmdb_root": str(tmp_path / "bad01"), "cmdb_ntp_servers": "{{ no_such_variable }}"}),
    }


def test_reconcile_runs_feed_discovery_with_facts_and_packages(tmp_path: Path, make_user: Any,
                                                              settings: Any) -> None:
    """The check run gathers facts; each host's report is ingested (dry run too), attributed to the reconciler."""
    from cmdb.core.models import ObjectChange
    from cmdb.software.models import SoftwareInstallation
    from discovery.models import Host, IngestRecord

    _facts_hosts(tmp_path)
    lines: list[tuple[str, str]] = []

    def log(message: str, level: str = "info") -> None:
        lines.append((level, message))

    dry = run_execute(ReconcileRun.objects.create(reconciler="ansible", scope="all", dry_run=True), log=log)
    assert dry.failed_count == 1  # bad01's template, after its facts were gathered
    assert not (tmp_path / "web01").exists()  # the dry run changed nothing on the hosts
    # ... nor in the CMDB: discovery was handed the facts (its log shows what it did), inside the savepoint
    # that a dry run rolls back.
    assert not Host.objects.exists() and not IngestRecord.objects.exists()
    messages = [m for _lvl, m in lines]
    assert any(re.fullmatch(r"discovery: 2 report\(s\): 1 create, 1 (noop|update); 0 failed", m) for m in messages)

    # An apply hands them over for good.
    lines.clear()
    applied = run_execute(ReconcileRun.objects.create(reconciler="ansible", scope="all", dry_run=False), log=log)
    assert applied.failed_count == 1 and applied.remaining_drift == 0, (applied.error, lines)
    # Both inventory hosts are this machine: one discovered CI, created by the first report.
    [host] = Host.objects.all()
    assert host.name == socket.gethostname().split(".")[0] and host.kernel == os.uname().release
    records = list(IngestRecord.objects.order_by("pk"))
    assert [(r.source, r.source_name) for r in records] == [("ansible", "reconcile:ansible")] * 2
    assert records[0].action == "create" and records[0].ci_id == host.ci_id
    assert ObjectChange.objects.filter(changed_object_id=host.pk, source="discovery:ansible:reconcile:ansible",
                                       action="create").exists()
    messages = [m for _lvl, m in lines]
    assert any(m.startswith(f"discovery: bad01: create ci {host.ci_id}") for m in messages), messages
    # The second report finds the same machine (by its MACs); other processes may have added a virtual NIC meanwhile.
    assert any(re.fullmatch(rf"discovery: web01: (noop|update) ci {host.ci_id} \(rule mac\).*", m)
               for m in messages), messages
    if Path("/var/lib/dpkg/status").exists():  # package_facts read dpkg (through python-apt)
        installed = SoftwareInstallation.objects.filter(ci_id=host.ci_id)
        assert installed.count() > 50
        assert installed.filter(version__product__name="dpkg").exists()

    # An apply gathers once (in its first check run), not again in apply or verify.
    applied = run_execute(ReconcileRun.objects.create(reconciler="ansible", scope="host:web01", dry_run=False),
                          log=log)
    assert applied.status == "completed" and applied.remaining_drift == 0
    assert IngestRecord.objects.count() == 3
    # The run's option switches it off.
    run_execute(ReconcileRun.objects.create(reconciler="ansible", scope="host:web01", dry_run=False,
                                            options={"facts": False}))
    assert IngestRecord.objects.count() == 3

    # A report that fails (here: the user who started the run may see the hosts, so the dry run plans them,
    # but may not change discovered hosts) is logged; the reconcile itself completes.
    from tests.users.test_permissions import grant

    lines.clear()
    viewer = make_user("viewer")
    grant(types=["*"], actions=["view"], users=[viewer])
    run = ReconcileRun.objects.create(reconciler="ansible", scope="host:web01", dry_run=True, user=viewer)
    run = run_execute(run, log=log)
    assert run.status == "completed", run.error
    refused = [m for lvl, m in lines if lvl == "error" and m.startswith("discovery: web01: report refused")]
    assert refused and "Identifies a CI you may not change." in refused[0], lines
    assert "discovery: 1 report(s): nothing ingested; 1 failed" in [m for _lvl, m in lines]
    assert IngestRecord.objects.count() == 3
    # A user who may not even see the host: the run leaves it out (no playbook, no report).
    lines.clear()
    nobody = make_user("nobody")
    run = run_execute(ReconcileRun.objects.create(reconciler="ansible", scope="host:web01", dry_run=True,
                                                  user=nobody), log=log)
    assert run.status == "completed" and run.targets == 0
    assert "1 targets in scope host:web01 left out: nobody may not view them" in [m for _lvl, m in lines]
    assert IngestRecord.objects.count() == 3

    # Switched off for the installation: no facts, no reports.
    settings.ANSIBLE_DISCOVERY_FACTS = False
    run_execute(ReconcileRun.objects.create(reconciler="ansible", scope="host:web01", dry_run=False))
    assert IngestRecord.objects.count() == 3
