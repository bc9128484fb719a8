"""``cmdb reconcile list|plan|apply|runs|show`` with the folder reconciler: output and exit codes.

The commands of docs/jobs-and-reconcilers.md ("From the command line") are the ones run here.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from cmdb.reconcile.models import Plan, ReconcileRun
from tests import factories as f
from tests.jobs.conftest import DB_TASKS

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def folder(tmp_path: Path, settings: Any) -> Path:
    settings.RECONCILERS_EXTRA = ["cmdb.reconcile.examples.folder.FolderReconciler"]
    settings.RECONCILE_FOLDER_ROOT = str(tmp_path / "files")
    f.world()
    return tmp_path / "files"


def reconcile(*args: str) -> tuple[int, str]:
    """``cmdb reconcile ARGS``: (exit code, stdout)."""
    out = io.StringIO()
    try:
        call_command("reconcile", *args, stdout=out, stderr=io.StringIO())
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_list_shows_reconcilers_kinds_and_options(folder: Path) -> None:
    code, out = reconcile("list")
    assert code == 0
    assert "folder: Keeps one file per CI" in out and "kinds: dcim.device, virtualization.virtualmachine" in out
    assert "--option prune=<bool>  default True" in out
    assert "--option playbook=<str>  default 'baseline.yml'" in out and "one of baseline.yml" in out
    # The domains' reconcilers, with their kinds and options.
    assert "k8s: Applies managed namespaces" in out and "kinds: k8s.namespace" in out
    assert "--option prune=<bool>  default False: Delete objects of ours" in out
    assert "vdi: Provisions the desktops of VDI pools" in out and "kinds: vdi.pool" in out


def test_plan_apply_and_exit_codes(folder: Path) -> None:
    code, out = reconcile("plan", "folder", "--scope", "tag:red")
    assert code == 2, out  # drift: the plan has items
    plan_id = int(re.search(r"^plan (\d+): 2 item\(s\) for 2 target\(s\)$", out, re.M).group(1))
    assert "+ [" in out and f"apply it with: cmdb reconcile apply {plan_id}" in out
    assert not folder.exists()  # planning changed nothing
    code, out = reconcile("apply", str(plan_id))
    assert code == 0, out  # applied, verify found nothing left
    assert "apply of a stored plan" in out and "drift left after verify: 0" in out and "(ok)" in out
    assert len(list(folder.iterdir())) == 2
    code, out = reconcile("plan", "folder", "--scope", "tag:red")
    assert code == 0 and "0 item(s)" in out  # in sync
    # The stored plan is stale now: refused, exit 1.
    code, out = reconcile("apply", str(plan_id))
    assert code == 1 and "re-plan" in out
    # Plan and apply in one go, with an option.
    code, out = reconcile("plan", "folder", "--scope", "name:sw01", "--apply", "-o", "template={name}\n")
    assert code == 0 and (folder.glob("*-sw01.txt").__next__()).read_text() == "sw01\n"
    code, out = reconcile("runs", "--reconciler", "folder")
    assert code == 0 and len(out.splitlines()) == 6 and "apply" in out
    run = ReconcileRun.objects.latest("id")
    code, out = reconcile("show", str(run.pk))
    assert code == 0 and f"run {run.pk}: folder plan and apply, scope name:sw01: completed" in out


def test_refusals_and_failures_exit_1(folder: Path, make_user: Any) -> None:
    for args, said in ((["plan", "folder", "--scope", "bogus:x"], "scope: Unknown scope term 'bogus:'"),
                       (["plan", "folder", "--scope", "tag:nothing"], "matches no CI"),
                       (["plan", "folder", "-o", "prune=maybe"], "options: prune: Give a bool"),
                       (["plan", "nope"], "Unknown reconciler 'nope'"),
                       (["apply", "99999"], "No plan 99999"),
                       (["plan", "folder", "--user", "ghost"], "No user 'ghost'")):
        with pytest.raises(CommandError, match=re.escape(said)):
            call_command("reconcile", *args, stdout=io.StringIO())
    # A tenant-scoped requester: nothing of the other tenant, even by name.
    from tests.users.test_permissions import grant

    admin = make_user("faculty-admin")
    from cmdb.tenancy.models import Tenant

    grant(types=["dcim.device"], actions=["view", "change"], users=[admin],
          tenants=[Tenant.objects.get(slug="informatik")])
    with pytest.raises(CommandError, match="matches no CI that you may view"):
        call_command("reconcile", "plan", "folder", "--scope", "name:db01", "--user", "faculty-admin",
                     stdout=io.StringIO())
    code, out = reconcile("plan", "folder", "--user", "faculty-admin")
    assert code == 2 and "for 2 target(s)" in out  # web01 and web02 of tenant A
    # A failing item: exit 1.
    folder.mkdir()
    (folder / f"{Plan.objects.latest('id').items.first().target}").mkdir()
    code, out = reconcile("plan", "folder", "--user", "faculty-admin", "--apply")
    assert code == 1 and "(failed)" in out


def test_queue_enqueues_and_returns_0(folder: Path, settings: Any) -> None:
    settings.TASKS = DB_TASKS
    code, out = reconcile("plan", "folder", "--scope", "tag:red", "--queue")
    run = ReconcileRun.objects.get()
    assert code == 0 and out.startswith(f"queued run {run.pk} (job {run.job_id})")
    from cmdb.jobs.worker import run_tasks

    run_tasks(holder="w", burst=True, fork=False)
    run.refresh_from_db()
    assert run.status == "completed" and run.job.status == "completed" and run.plan_id


def test_help_names_the_subcommands_and_exit_codes(capsys: Any) -> None:
    with pytest.raises(SystemExit):
        call_command("reconcile", "--help")
    text = capsys.readouterr().out
    assert "{list,plan,apply,runs,show}" in text and "0 no drift left, 2 drift left, 1 failure" in text
