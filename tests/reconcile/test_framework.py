"""The reconcile framework with its example reconciler (``folder``: one file per CI in a real folder).

Scope grammar and refusals, a tenant-scoped requester, declared options, stored plans with per-item
outcomes, a stale plan refused with the difference, the dry-run rollback nested in an outer change-log
context, the apply gate, leases (one run per scope; a killed holder's lease expires) and the API.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from cmdb.core import hooks
from cmdb.core.context import change_logging
from cmdb.jobs.leases import lease_acquire, lease_holder
from cmdb.jobs.models import Lease, Schedule
from cmdb.jobs.worker import run_tasks
from cmdb.reconcile.base import DiffItem, options_errors
from cmdb.reconcile.examples.folder import FolderReconciler
from cmdb.reconcile.models import Plan, ReconcileRun
from cmdb.reconcile.scope import ScopeError, parse_scope, resolve_scope
from cmdb.reconcile.selectors import plan_text
from cmdb.reconcile.services import RunRefused, apply_request, lease_name, run_errors, run_execute, run_request
from tests import factories as f
from tests.jobs.conftest import DB_TASKS
from tests.users.test_permissions import grant

pytestmark = pytest.mark.django_db(transaction=True)

DEVICE, VM = "dcim.device", "virtualization.virtualmachine"


@pytest.fixture
def folder(tmp_path: Path, settings: Any) -> Path:
    """The folder reconciler enabled (as an installation would, through settings) on a fresh folder."""
    settings.RECONCILERS_EXTRA = ["cmdb.reconcile.examples.folder.FolderReconciler"]
    settings.RECONCILE_FOLDER_ROOT = str(tmp_path / "files")
    return tmp_path / "files"


@pytest.fixture
def w() -> f.World:
    return f.world()


def _files(root: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(root.glob("*"))} if root.exists() else {}


def _name(device: Any) -> str:
    return FolderReconciler.file_name(device.ci_id, device.name)


# --- scope grammar ----------------------------------------------------------------------------------------------


def test_scope_grammar_parses_and_refuses_bad_terms() -> None:
    assert parse_scope("all") == [] and parse_scope("") == []
    terms = parse_scope("site:zittau tag:red,blue;role:server")
    assert [(t.key, t.values) for t in terms] == [("site", ("zittau",)), ("tag", ("red", "blue")),
                                                  ("role", ("server",))]
    for bad, said in (("bogus:x", "Unknown scope term 'bogus:'"), ("web01", "has no 'key:'"),
                      ("tag:", "names no value"), ("ci:abc", "takes registry ids"), ("x" * 201, "200 characters")):
        with pytest.raises(ScopeError, match=said):
            parse_scope(bad)


def test_scope_resolves_over_the_registry_with_terms_anded(w: f.World) -> None:
    d = w.devices

    def names(scope: str, kinds: tuple[str, ...] = (DEVICE, VM)) -> set[str]:
        selection = resolve_scope(scope, kinds)
        from cmdb.core.models import ConfigurationItem

        return set(ConfigurationItem.objects.filter(pk__in=selection.ci_ids).values_list("name", flat=True))

    assert names("all") == {"web01", "web02", "db01", "sw01", "vm-a", "vm-b"}
    assert names("all", (DEVICE,)) == {"web01", "web02", "db01", "sw01"}
    assert names(f"ci:{d['web01'].ci_id},{w.vms['vm-a'].ci_id}") == {"web01", "vm-a"}
    assert names("name:web02,vm-b") == names("host:web02,vm-b") == {"web02", "vm-b"}
    assert names("kind:virtualization.virtualmachine") == {"vm-a", "vm-b"}
    assert names("site:zittau") == {"web01", "web02", "vm-a", "vm-b"}  # the VMs through their cluster
    assert names("tenant:informatik") == {"web01", "web02", "vm-a"}
    assert names("role:switch") == {"sw01"}
    assert names("tag:red") == {"web01", "web02"}
    assert names("tag:red tag:blue") == {"web01"}  # terms are ANDed
    assert names("tag:red,blue") == {"web01", "web02", "db01"}  # values within a term ORed
    assert names("site:zittau;tenant:informatik tag:blue") == {"web01"}
    assert names("platform:debian") == {"web01"}
    assert names("tag:nothing") == set()
    with pytest.raises(ScopeError, match=r"kind: dcim\.rack is not managed"):
        resolve_scope("kind:dcim.rack", (DEVICE, VM))


def test_service_scope_is_the_stack_the_service_depends_on(w: f.World) -> None:
    from cmdb.services.models import Service
    from cmdb.services.relationships import ensure_builtin_types, relationship_ensure

    ensure_builtin_types()
    with change_logging(source="test"):
        mail = Service(name="Mail", slug="mail")
        mail.validated_save()
        relationship_ensure(source_ci_id=mail.ci_id, target_ci_id=w.vms["vm-a"].ci_id, type_slug="runs_on")
    selection = resolve_scope("service:mail", (DEVICE, VM))
    assert selection.ci_ids == [w.vms["vm-a"].ci_id]
    assert not resolve_scope("service:mail tag:red", (DEVICE, VM)).ci_ids


def test_runs_and_schedules_refuse_bad_scopes_and_options(folder: Path, w: f.World, make_user: Any) -> None:
    assert run_errors(reconciler="folder", scope="bogus:x")["scope"].startswith("Unknown scope term")
    assert "matches no CI" in run_errors(reconciler="folder", scope="tag:nothing")["scope"]
    assert "not managed" in run_errors(reconciler="folder", scope="kind:dcim.rack")["scope"]
    # Other tests may register reconcilers of their own: the message lists whatever is registered.
    unknown = run_errors(reconciler="nope")["reconciler"]
    assert unknown.startswith("Unknown reconciler; known: ") and {"ansible", "folder", "k8s", "vdi"} <= set(
        unknown.removeprefix("Unknown reconciler; known: ").rstrip(".").split(", ")), unknown
    assert run_errors(reconciler="folder", scope="tag:red") == {}
    errors = run_errors(reconciler="folder", options={"prune": "yes", "colour": 1, "template": "{nope}"})
    assert set(errors) == {"options"}
    assert "prune: Give a bool" in errors["options"] and "colour: Unknown option of folder" in errors["options"]
    assert "template: Use only the fields" in errors["options"]
    with pytest.raises(RunRefused) as refused:
        run_request(reconciler="folder", scope="tag:nothing", user=None, enqueue=False)
    assert set(refused.value.errors) == {"scope"}
    # A schedule is validated like any job's arguments, when it is saved.
    from django.core.exceptions import ValidationError

    bad = Schedule(name="bad", job_name="reconcile.run", cron="0 3 * * *",
                   kwargs={"reconciler": "folder", "scope": "tag:managed", "options": {"prune": 1}})
    with pytest.raises(ValidationError) as invalid:
        bad.validated_save()
    text = str(invalid.value.message_dict["kwargs"])
    assert "scope: Scope 'tag:managed' matches no CI" in text and "options: prune: Give a bool" in text
    Schedule(name="good", job_name="reconcile.run", cron="0 3 * * *",
             kwargs={"reconciler": "folder", "scope": "tag:red", "options": {"prune": False}}).validated_save()


def test_options_are_declared_validated_and_reach_the_reconciler(folder: Path, w: f.World) -> None:
    assert options_errors(FolderReconciler, {"template": "{name}!"}) == {}
    assert options_errors(FolderReconciler, ["x"]) == {"options": "Give the options as a JSON object."}
    run = run_execute(run_request(reconciler="folder", scope="name:web01", dry_run=False, enqueue=False,
                                  options={"template": "host {name} #{ci_id}\n"}))
    assert run.status == "completed" and run.options == {"template": "host {name} #{ci_id}\n"}
    assert _files(folder) == {_name(w.devices["web01"]): f"host web01 #{w.devices['web01'].ci_id}\n"}


# --- plans, per-item outcomes, stale plans, the gate ------------------------------------------------------------


def test_plan_then_apply_exactly_the_stored_plan_with_per_item_outcomes(folder: Path, w: f.World) -> None:
    d = w.devices
    folder.mkdir()
    (folder / _name(d["web02"])).write_text("old content\n")
    (folder / "999999-gone.txt").write_text("a CI that no longer exists\n")
    dry = run_execute(run_request(reconciler="folder", scope="tag:red,blue", enqueue=False))
    assert dry.status == "completed" and dry.remaining_drift is None and dry.plan_id
    plan = Plan.objects.get(pk=dry.plan_id)
    assert len(plan.fingerprint) == 64 and plan.targets == 3 and plan.scope == "tag:red,blue"
    items = {(i.operation, i.target): i.outcome for i in plan.items.all()}
    assert items == {("create", _name(d["web01"])): "planned", ("create", _name(d["db01"])): "planned",
                     ("update", _name(d["web02"])): "planned", ("delete", "999999-gone.txt"): "planned"}
    assert f"~ [{_name(d['web02'])}] file (planned)\n-old content\n+web02 (dcim.device) is active" in plan_text(
        dry.actions.all())
    assert _files(folder)[_name(d["web02"])] == "old content\n"  # a dry run changes nothing

    applied = run_execute(apply_request(plan, enqueue=False))
    assert applied.status == "completed", applied.error
    assert applied.plan_id == plan.pk and applied.applies_plan and applied.remaining_drift == 0
    assert set(plan.items.values_list("outcome", flat=True)) == {"ok"} and applied.applied_count == 4
    assert "999999-gone.txt" not in _files(folder) and _files(folder)[_name(d["web02"])].startswith("web02")


def test_failing_items_are_recorded_per_item(folder: Path, w: f.World) -> None:
    d = w.devices
    folder.mkdir()
    (folder / _name(d["db01"])).mkdir()  # not a file: observe skips it, the write fails
    run = run_execute(run_request(reconciler="folder", scope="tag:blue", dry_run=False, enqueue=False))
    outcomes = {i.target: (i.outcome, i.message) for i in run.actions.all()}
    assert outcomes[_name(d["web01"])] == ("ok", "")
    assert outcomes[_name(d["db01"])][0] == "failed" and "IsADirectoryError" in outcomes[_name(d["db01"])][1]
    assert run.status == "failed" and run.failed_count == 1 and run.remaining_drift == 1
    assert run.summary[_name(d["db01"])]["status"] == "failed"


def test_a_stale_plan_is_refused_with_the_difference(folder: Path, w: f.World) -> None:
    d = w.devices
    dry = run_execute(run_request(reconciler="folder", scope="tag:red", enqueue=False))
    plan = Plan.objects.get(pk=dry.plan_id)
    # The CMDB changed since the plan: web02 is now "planned", so its file would say something else.
    d["web02"].status = "planned"
    with change_logging(source="test"):
        d["web02"].save()
    # And someone made web01's file by hand.
    folder.mkdir()
    (folder / _name(d["web01"])).write_text("web01 (dcim.device) is active\n")
    refused = run_execute(apply_request(plan, enqueue=False))
    assert refused.status == "failed" and refused.applied_count == 0
    assert f"Plan {plan.pk} no longer matches" in refused.error and "re-plan" in refused.error
    assert f"- create [{_name(d['web01'])}] file" in refused.error  # gone from a fresh plan
    assert f"- create [{_name(d['web02'])}] file" in refused.error  # its content changed
    assert f"+ create [{_name(d['web02'])}] file" in refused.error
    assert set(plan.items.values_list("outcome", flat=True)) == {"planned"}  # nothing applied
    assert _files(folder) == {_name(d["web01"]): "web01 (dcim.device) is active\n"}


def test_the_apply_gate_can_deny_and_nobody_connected_allows(folder: Path, w: f.World) -> None:
    seen: list[dict[str, Any]] = []

    def change_board(sender: Any, **kwargs: Any) -> dict[str, Any]:
        seen.append(kwargs)
        return {"allow": False, "reasons": ["no change window before Friday", "CAB has not met"]}

    hooks.reconcile_apply_requested.connect(change_board, dispatch_uid="test.change_board")
    try:
        denied = run_execute(run_request(reconciler="folder", scope="name:web01", dry_run=False, enqueue=False))
    finally:
        hooks.reconcile_apply_requested.disconnect(dispatch_uid="test.change_board")
    assert denied.status == "failed" and denied.error == "Apply denied: no change window before Friday; CAB has not met"
    assert seen[0]["reconciler"] == "folder" and seen[0]["plan"].pk == denied.plan_id
    assert [i.target for i in seen[0]["items"]] == [_name(w.devices["web01"])]
    assert set(denied.actions.values_list("outcome", flat=True)) == {"skipped"} and not _files(folder)
    allowed = run_execute(run_request(reconciler="folder", scope="name:web01", dry_run=False, enqueue=False))
    assert allowed.status == "completed" and len(_files(folder)) == 1


# --- tenant scope of the requester ------------------------------------------------------------------------------


def test_a_tenant_admin_plans_and_applies_only_within_their_tenant(folder: Path, w: f.World, make_user: Any) -> None:
    admin = make_user("faculty-admin")
    grant(types=["dcim.device", "virtualization.virtualmachine"], actions=["view", "change"], users=[admin],
          tenants=[w.tenant_a])
    viewer = make_user("faculty-viewer")
    grant(types=["dcim.device", "virtualization.virtualmachine"], actions=["view"], users=[viewer],
          tenants=[w.tenant_a])
    # db01 belongs to tenant B: a scope naming only it matches nothing this admin may see.
    assert "matches no CI that you may view" in run_errors(reconciler="folder", scope="name:db01", user=admin)["scope"]
    # A viewer may plan, but an apply's scope matches nothing they may change.
    assert run_errors(reconciler="folder", scope="tag:red,blue", user=viewer) == {}
    assert "that you may change" in run_errors(reconciler="folder", scope="all", dry_run=False, user=viewer)["scope"]
    run = run_execute(run_request(reconciler="folder", scope="tag:red,blue", dry_run=False, user=admin, enqueue=False))
    assert run.status == "completed" and run.targets == 2
    assert sorted(_files(folder)) == sorted([_name(w.devices["web01"]), _name(w.devices["web02"])])
    plan = Plan.objects.get(pk=run.plan_id)
    assert plan.created_by == admin


# --- dry runs roll back writeback, nested or not ----------------------------------------------------------------


class _Recorder(FolderReconciler):
    """The folder reconciler writing the CIs it saw back into the CMDB (a description)."""

    name = "folder-recorder"

    def writeback(self, desired: list[Any], observed: Any) -> None:
        from cmdb.dcim.models import Device

        with change_logging(source="reconcile:folder-recorder"):
            for device in Device.objects.filter(ci_id__in=[t.ci_id for t in desired]):
                device.description = "seen by the folder reconciler"
                device.save()


@pytest.mark.parametrize("nested", [False, True], ids=["alone", "inside-an-outer-change-log-context"])
def test_a_dry_run_rolls_back_writeback(folder: Path, w: f.World, settings: Any, nested: bool) -> None:
    from cmdb.core.models import ObjectChange
    from cmdb.dcim.models import Device

    settings.RECONCILERS_EXTRA = [*settings.RECONCILERS_EXTRA, "tests.reconcile.test_framework._Recorder"]
    changes = ObjectChange.objects.count()
    run = ReconcileRun.objects.create(reconciler="folder-recorder", scope="name:web01", dry_run=True)
    if nested:
        with change_logging(source="outer") as outer:
            run = run_execute(run)
            assert not outer.pending  # the rolled-back writes left no change records behind
    else:
        run = run_execute(run)
    assert run.status == "completed", run.error
    assert Device.objects.get(name="web01").description == "Web frontend"
    assert ObjectChange.objects.count() == changes
    applied = run_execute(ReconcileRun.objects.create(reconciler="folder-recorder", scope="name:web01",
                                                      dry_run=False))
    assert applied.status == "completed", applied.error
    assert Device.objects.get(name="web01").description == "seen by the folder reconciler"
    assert ObjectChange.objects.filter(source="reconcile:folder-recorder").count() == 1


# --- leases -----------------------------------------------------------------------------------------------------


def test_one_run_per_scope_and_an_expired_lease_is_taken_over(folder: Path, w: f.World) -> None:
    now = timezone.now()
    assert lease_acquire(lease_name("folder", "all"), "dead-worker", ttl=30, now=now)
    skipped = run_execute(ReconcileRun.objects.create(reconciler="folder", dry_run=False))
    assert skipped.status == "skipped" and not _files(folder)
    other = run_execute(ReconcileRun.objects.create(reconciler="folder", scope="tag:red", dry_run=True))
    assert other.status == "completed"  # another scope is independent
    Lease.objects.update(expires=now - dt.timedelta(seconds=1))
    done = run_execute(ReconcileRun.objects.create(reconciler="folder", dry_run=False))
    assert done.status == "completed" and len(_files(folder)) == 6
    assert Lease.objects.count() == 0  # released


@pytest.mark.skipif(os.environ.get("DATABASE_URL", "").split(":")[0] not in ("postgres", "postgresql"),
                    reason="a second process shares the test database only on PostgreSQL")
def test_a_lease_held_by_a_killed_process_expires(folder: Path, w: f.World, tmp_path: Path) -> None:
    """A real process holds the run's lease (renewing it) and is killed with SIGKILL: runs are skipped
    while the lease lives, and the next run after its TTL proceeds."""
    db = connection.settings_dict
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    code = ("import time\nfrom cmdb.jobs.leases import leased\n"
            "with leased('reconcile:folder:all', 'doomed-worker', ttl=2) as held:\n"
            "    print('held' if held else 'taken', flush=True)\n    time.sleep(600)\n")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "cmdb"), "shell", "-c", code], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:  # after what `shell` itself may print; EOF if it died
            lines.append(line.strip())
            if lines[-1] in ("held", "taken"):
                break
        assert lines[-1:] == ["held"], lines
        time.sleep(3)  # longer than the TTL: only the renewals keep it alive
        assert lease_holder("reconcile:folder:all") == "doomed-worker"
        assert run_execute(ReconcileRun.objects.create(reconciler="folder", dry_run=False)).status == "skipped"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    deadline = time.monotonic() + 10
    while lease_holder("reconcile:folder:all") is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lease_holder("reconcile:folder:all") is None  # expired by itself, nobody released it
    done = run_execute(ReconcileRun.objects.create(reconciler="folder", dry_run=False))
    assert done.status == "completed" and len(_files(folder)) == 6


# --- the API ----------------------------------------------------------------------------------------------------


def test_diff_items_are_immutable_and_serializable() -> None:
    item = DiffItem("update", "web01", "motd", diff="-a\n+b\n", ci_id=3)
    assert DiffItem.from_dict(item.as_dict()) == item
    with pytest.raises(AttributeError):
        item.target = "x"  # type: ignore[misc]


def test_api_lists_runs_shows_plans_and_triggers_runs(folder: Path, w: f.World, api: Any, make_user: Any,
                                                       client_for: Any, settings: Any) -> None:
    settings.TASKS = DB_TASKS
    r = api.post("/api/reconcile/runs/", {"reconciler": "folder", "scope": "tag:red", "dry_run": True,
                                          "options": {"prune": False}}, format="json")
    assert r.status_code == 201, r.json()
    run_id = r.json()["id"]
    assert r.json()["status"]["value"] == "pending" and r.json()["job"]["id"]
    run_tasks(holder="w", burst=True, fork=False)
    body = api.get(f"/api/reconcile/runs/{run_id}/").json()
    assert body["status"]["value"] == "completed" and body["drift_count"] == 2 and body["user"] == "admin"
    assert body["options"] == {"prune": False} and body["plan"]["id"]
    plan = api.get(f"/api/reconcile/runs/{run_id}/plan/").json()
    assert plan["count"] == 2 and plan["items"][0]["diff"] == "+web01 (dcim.device) is active\n"
    assert plan["items"][0]["result"] == plan["items"][0]["outcome"] == {"value": "planned", "label": "Planned"}
    text = api.get(f"/api/reconcile/runs/{run_id}/plan/?output=text")
    assert text.status_code == 200 and b"+ [" in text.content
    assert api.get("/api/reconcile/runs/?reconciler=folder&status=completed").json()["count"] == 1
    plan_id = body["plan"]["id"]
    assert api.get(f"/api/reconcile/plans/{plan_id}/").json()["fingerprint"]
    assert api.get(f"/api/reconcile/plans/{plan_id}/items/").json()["count"] == 2
    # Apply the stored plan through the API.
    applied = api.post(f"/api/reconcile/plans/{plan_id}/apply/", format="json")
    assert applied.status_code == 201, applied.json()
    run_tasks(holder="w", burst=True, fork=False)
    assert api.get(f"/api/reconcile/runs/{applied.json()['id']}/").json()["remaining_drift"] == 0
    assert len(_files(folder)) == 2
    # The reconcilers and their declared options.
    described = {r["name"]: r for r in api.get("/api/reconcile/reconcilers/").json()["results"]}
    assert [o["name"] for o in described["folder"]["options"]] == ["template", "prune"]
    assert [o["name"] for o in described["ansible"]["options"]] == ["playbook", "facts", "tags"]
    assert "baseline.yml" in described["ansible"]["options"][0]["choices"]
    # 400s naming the field.
    for payload, field in (({"reconciler": "nope"}, "reconciler"),
                           ({"reconciler": "folder", "scope": "bogus:x"}, "scope"),
                           ({"reconciler": "folder", "scope": "tag:nothing"}, "scope"),
                           ({"reconciler": "folder", "options": {"prune": "maybe"}}, "options"),
                           ({"reconciler": "ansible", "options": {"playbook": "/etc/passwd"}}, "options"),
                           ({"reconciler": "ansible", "options": {"tags": "x --extra-vars"}}, "options")):
        bad = api.post("/api/reconcile/runs/", payload, format="json")
        assert bad.status_code == 400 and list(bad.json()) == [field], (payload, bad.json())
    # A user who may only view cannot trigger an apply, and anonymous users see nothing.
    viewer = make_user("viewer")
    grant(types=["reconcile.reconcilerun", "dcim.device"], actions=["view", "add"], users=[viewer])
    client = client_for(viewer)
    assert client.get("/api/reconcile/runs/").json()["count"] == 2
    assert client.post("/api/reconcile/runs/", {"reconciler": "folder"}, format="json").status_code == 201
    denied = client.post("/api/reconcile/runs/", {"reconciler": "folder", "dry_run": False}, format="json")
    assert denied.status_code == 403
    assert client.post(f"/api/reconcile/plans/{plan_id}/apply/", format="json").status_code in (403, 404)
    from rest_framework.test import APIClient

    assert APIClient().get("/api/reconcile/runs/").status_code in (401, 403)


def test_a_reaped_reconcile_job_fails_its_run(folder: Path, w: f.World, settings: Any) -> None:
    """The worker running a reconcile job died (its job lease expired): the reaper fails the job, and the run
    with it, instead of leaving the run "running" for ever."""
    from cmdb.jobs.models import Job
    from cmdb.jobs.reaper import jobs_reap

    settings.TASKS = DB_TASKS
    run = run_request(reconciler="folder", scope="tag:red", dry_run=False)
    past = timezone.now() - dt.timedelta(minutes=5)
    Job.objects.filter(pk=run.job_id).update(status="running", worker="gone:1", started=past, heartbeat=past,
                                             lease_expires=past + dt.timedelta(seconds=60))
    assert jobs_reap().failed == (run.job_id,)
    run.refresh_from_db()
    assert run.status == "failed" and run.error.startswith("Worker lost: gone:1") and run.finished
