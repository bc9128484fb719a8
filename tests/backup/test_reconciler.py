"""The ``backup`` reconciler with real ansible-playbook runs (ansible-runner) against localhost, and the
rendered scripts run for real against restic repositories on disk.

Each host is localhost (``ansible_connection=local``) managing its own root folder under tmp
(``cmdb_root``), so the role writes the units there and leaves systemd alone.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from croniter import croniter

from backup import services
from backup import systemd as sd
from backup.models import PolicyAttachment, Snapshot
from cmdb.reconcile.models import CIDrift, ReconcileRun
from cmdb.reconcile.services import RunRefused, apply_request, run_execute
from cmdb.services.models import Relationship, Service
from cmdb.services.relationships import ensure_builtin_types
from tests import factories as f

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("ansible-playbook", path=str(Path(sys.executable).parent)) is None,
                       reason="ansible-playbook (ansible-core) is not installed in this environment"),
]

LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}


def _run(dry_run: bool, scope: str = "all") -> ReconcileRun:
    return run_execute(ReconcileRun.objects.create(reconciler="backup", scope=scope, dry_run=dry_run))


def _world(tmp_path: Path, repos: Any, data_dir: Path) -> Any:
    """A service (runs on web01) with a policy that has an archive tier; db01 with its own policy; idle01 with none."""
    w = type("W", (), {})()
    w.roots = {name: tmp_path / "hosts" / name for name in ("web01", "db01", "idle01")}
    w.hosts = {name: f.device(name, local_context_data={**LOCAL, "cmdb_root": str(root)})
               for name, root in w.roots.items()}
    w.service = Service(name="campus-management", slug="campus-management", criticality="critical")
    w.service.save()
    Relationship.objects.create(source_id=w.service.ci_id, target_id=w.hosts["web01"].ci_id,
                                type=ensure_builtin_types()["runs_on"])
    w.web = repos.Policy(name="Campus web", paths=[str(data_dir)], excludes=["*.tmp", "{{ 7 * 7 }}"],
                         schedule="30 1 * * 1-5", keep_last=2, keep_daily=0, keep_weekly=0, keep_monthly=0,
                         repository=repos.primary, archive_repository=repos.archive, archive_years=10)
    w.web.validated_save()
    w.db = repos.Policy(name="db nightly", paths=[str(data_dir / "etc")], schedule="0 3 1,15 * 0",
                        repository=repos.primary)
    w.db.validated_save()
    PolicyAttachment.objects.create(policy=w.web, ci_id=w.service.ci_id)
    PolicyAttachment.objects.create(policy=w.db, ci_id=w.hosts["db01"].ci_id)
    return w


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("cmdb-backup-*"))


def test_plan_apply_verify_and_the_rendered_timers_really_back_up(tmp_path: Path, repos: Any, data_dir: Path,
                                                                   superuser: Any) -> None:
    w = _world(tmp_path, repos, data_dir)
    unit = sd.unit_name(w.web.pk, w.web.name)

    # Dry run: three files per host under a policy, nothing on disk.
    dry = _run(dry_run=True)
    assert dry.status == "completed", dry.error
    assert set(dry.actions.values_list("target", flat=True)) == {"db01", "web01"}
    resources = set(dry.actions.filter(target="web01").values_list("resource", flat=True))
    assert resources == {f"/etc/cmdb-backup/{unit}.sh", f"/etc/systemd/system/{unit}.service",
                         f"/etc/systemd/system/{unit}.timer"}
    assert set(dry.actions.values_list("operation", flat=True)) == {"create"}
    timer = dry.actions.get(target="web01", resource=f"/etc/systemd/system/{unit}.timer")
    assert "+OnCalendar=Mon,Tue,Wed,Thu,Fri *-*-* 01:30:00" in timer.diff
    assert not any(root.exists() for root in w.roots.values())
    assert CIDrift.objects.get(reconciler="backup", ci_id=w.hosts["web01"].ci_id).status == "drifted"
    assert CIDrift.objects.get(reconciler="backup", ci_id=w.hosts["idle01"].ci_id).status == "in_sync"

    # Apply the stored plan: each item ok, nothing left to do.
    applied = run_execute(apply_request(dry.plan, user=superuser, enqueue=False))
    assert applied.status == "completed", applied.error
    assert applied.remaining_drift == 0
    assert set(applied.actions.values_list("outcome", flat=True)) == {"ok"}
    assert _files(w.roots["web01"]) == [f"etc/cmdb-backup/{unit}.sh", f"etc/systemd/system/{unit}.service",
                                        f"etc/systemd/system/{unit}.timer"]
    assert not w.roots["idle01"].exists() or _files(w.roots["idle01"]) == []
    script = (w.roots["web01"] / f"etc/cmdb-backup/{unit}.sh").read_text()
    assert "--exclude '{{ 7 * 7 }}'" in script  # written literally, never templated by Ansible
    assert "inherited from service campus-management (runs_on)" in script
    assert "correct horse" not in script and "RESTIC_PASSWORD_COMMAND='printenv CMDB_RESTIC_PASSWORD'" in script
    assert os.stat(w.roots["web01"] / f"etc/cmdb-backup/{unit}.sh").st_mode & 0o777 == 0o700
    service = (w.roots["web01"] / f"etc/systemd/system/{unit}.service").read_text()
    assert f"ExecStart=/etc/cmdb-backup/{unit}.sh" in service
    assert "EnvironmentFile=-/etc/cmdb-backup/secrets.env" in service
    db_timer = (w.roots["db01"] / "etc/systemd/system" / f"{sd.unit_name(w.db.pk, w.db.name)}.timer").read_text()
    # Cron ORs day-of-month and weekday: two calendar lines.
    assert "OnCalendar=*-*-01,15 03:00:00\nOnCalendar=Sun *-*-* 03:00:00\n" in db_timer
    assert _run(dry_run=True).actions.count() == 0

    # The rendered script, run as the timer would (the secret from the environment), really backs up,
    # applies the retention and copies to the archive; the CMDB's inventory sync attributes the snapshots.
    assert services.init_repository(repos.primary).ok
    assert services.init_archive(repos.archive, repos.primary).ok
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path),
           "CMDB_RESTIC_PASSWORD": os.environ["CMDB_RESTIC_PASSWORD"],
           "CMDB_RESTIC_ARCHIVE_PASSWORD": os.environ["CMDB_RESTIC_ARCHIVE_PASSWORD"]}
    for round_ in range(3):
        (data_dir / "etc" / "app" / "changing.ini").write_text(f"round {round_}\n")
        done = subprocess.run(["bash", str(w.roots["web01"] / f"etc/cmdb-backup/{unit}.sh")], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    assert services.sync_inventory(repos.primary).ok
    kept = Snapshot.objects.filter(repository=repos.primary, ci_id=w.hosts["web01"].ci_id, policy=w.web)
    assert kept.count() == 2  # keep_last 2 of three backups
    assert all(s.hostname == "web01" for s in kept)
    assert services.sync_inventory(repos.archive).ok
    archived = Snapshot.objects.filter(repository=repos.archive, ci_id=w.hosts["web01"].ci_id)
    # The archive keeps one snapshot per year for ten years (keep-yearly 10): all three were taken this year.
    assert archived.count() == 1

    # Without the secret the script stops before restic runs, naming what is missing.
    broken = subprocess.run(["bash", str(w.roots["web01"] / f"etc/cmdb-backup/{unit}.sh")],
                            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)}, capture_output=True, text=True,
                            timeout=60)
    assert broken.returncode != 0 and "CMDB_RESTIC_PASSWORD is not set" in broken.stderr

    # Hand-made drift on a host is planned back; a detached policy's files are removed.
    (w.roots["web01"] / f"etc/systemd/system/{unit}.timer").write_text("[Timer]\nOnCalendar=hourly\n")
    PolicyAttachment.objects.filter(policy=w.db).delete()
    again = _run(dry_run=True)
    by = {(a.target, a.resource): a for a in again.actions.all()}
    assert by[("web01", f"/etc/systemd/system/{unit}.timer")].operation == "update"
    assert "-OnCalendar=hourly" in by[("web01", f"/etc/systemd/system/{unit}.timer")].diff
    db_unit = sd.unit_name(w.db.pk, w.db.name)
    assert {(o, r) for (t, r), o in ((k, a.operation) for k, a in by.items()) if t == "db01"} == {
        ("delete", f"/etc/cmdb-backup/{db_unit}.sh"), ("delete", f"/etc/systemd/system/{db_unit}.service"),
        ("delete", f"/etc/systemd/system/{db_unit}.timer")}

    # A plan made stale (the policy changed since) is refused, then a fresh one applies.
    w.web.schedule = "0 4 * * *"
    w.web.validated_save()
    stale = run_execute(apply_request(again.plan, user=superuser, enqueue=False))
    assert stale.status == "failed" and "re-plan" in (stale.error or "").lower()
    fixed = _run(dry_run=False)
    assert fixed.status == "completed", fixed.error
    assert fixed.remaining_drift == 0
    assert _files(w.roots["db01"]) == []
    assert "OnCalendar=*-*-* 04:00:00" in (w.roots["web01"] / f"etc/systemd/system/{unit}.timer").read_text()
    assert CIDrift.objects.get(reconciler="backup", ci_id=w.hosts["web01"].ci_id).status == "in_sync"


def test_an_unreachable_host_fails_its_items_not_the_others(tmp_path: Path, repos: Any, data_dir: Path) -> None:
    w = _world(tmp_path, repos, data_dir)
    w.hosts["db01"].local_context_data = {"ansible_host": "192.0.2.1", "ansible_connection": "ssh",
                                          "ansible_ssh_common_args": "-o ConnectTimeout=2 -o BatchMode=yes"}
    w.hosts["db01"].save()
    run = _run(dry_run=False)
    assert run.status == "failed"
    assert CIDrift.objects.get(reconciler="backup", ci_id=w.hosts["db01"].ci_id).status in ("unreachable", "failed")
    assert _files(w.roots["web01"])
    assert set(run.actions.filter(target="web01").values_list("outcome", flat=True)) == {"ok"}


@pytest.mark.parametrize("cron", ["0 2 * * *", "*/15 8-18 * * 1-5", "5 4 1,15 * 0", "0 0 29 2 *", "0 12 * 6,12 7",
                                  "59 23 31 * *"])
def test_cron_schedules_become_equivalent_systemd_calendars(cron: str) -> None:
    """The next ten firings systemd computes for the OnCalendar lines are croniter's for the cron expression."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    it = croniter(cron, start)
    expected = [it.get_next(dt.datetime) for _ in range(10)]
    got: set[dt.datetime] = set()
    for line in sd.on_calendar(cron):
        out = subprocess.run([analyze, "calendar", "--iterations", "10", "--base-time", "2026-01-01 00:00:00 UTC",
                              f"{line} UTC"], capture_output=True, text=True, env={**os.environ, "TZ": "UTC"},
                             timeout=30, check=True).stdout
        for text in out.splitlines():
            if "Next elapse:" in text or "Iter. #" in text:
                stamp = text.split(":", 1)[1].strip()
                got.add(dt.datetime.strptime(stamp.split(" ", 1)[1].rsplit(" ", 1)[0], "%Y-%m-%d %H:%M:%S")
                        .replace(tzinfo=dt.UTC))
    assert sorted(got)[:10] == expected


def test_scope_is_refused_for_kinds_the_reconciler_does_not_manage(repos: Any) -> None:
    with pytest.raises(RunRefused):
        from cmdb.reconcile.services import run_request

        run_request(reconciler="backup", scope="kind:backup.policy", enqueue=False)


BIN = Path(sys.executable).parent


@pytest.mark.skipif(shutil.which("ansible-lint", path=str(BIN)) is None, reason="ansible-lint is not installed")
def test_the_play_and_role_pass_ansible_lint() -> None:
    from backup.reconcilers import ANSIBLE_DIR

    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    result = subprocess.run([str(BIN / "ansible-lint"), "--profile", "production", "--offline", "backup.yml"],
                            cwd=ANSIBLE_DIR, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
