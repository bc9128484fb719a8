"""The reconcile framework with a small real reconciler (files in a folder): leases, dry run, API."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from cmdb.jobs.leases import lease_acquire
from cmdb.jobs.models import Lease
from cmdb.jobs.worker import run_tasks
from cmdb.reconcile.base import DiffItem, Reconciler, Target, TargetOutcome, register
from cmdb.reconcile.models import ReconcileRun
from cmdb.reconcile.selectors import plan_text
from cmdb.reconcile.services import lease_name, run_execute
from tests.jobs.conftest import DB_TASKS

pytestmark = pytest.mark.django_db(transaction=True)

ROOT: dict[str, Path] = {}


@register
class FolderReconciler(Reconciler):
    """Desired: one file per scope name; observe: what is in the folder."""

    name = "test-folder"
    lease_ttl = 30

    def desired(self, scope: str) -> list[Target]:
        return [Target(name=n) for n in ("a", "b")]

    def observe(self, desired: list[Target]) -> dict[str, str | None]:
        return {t.name: (ROOT["dir"] / t.name).read_text() if (ROOT["dir"] / t.name).exists() else None
                for t in desired}

    def plan(self, desired: list[Target], observed: Any) -> list[DiffItem]:
        return [DiffItem("create" if observed[t.name] is None else "update", t.name, f"file {t.name}",
                         diff=f"-{observed[t.name]}\n+want {t.name}\n")
                for t in desired if observed[t.name] != f"want {t.name}"]

    def apply(self, desired: list[Target], items: list[DiffItem]) -> list[TargetOutcome]:
        out = []
        for item in items:
            if item.target == "b" and (ROOT["dir"] / "b.readonly").exists():
                out.append(TargetOutcome("b", "failed", message="read-only"))
                continue
            (ROOT["dir"] / item.target).write_text(f"want {item.target}")
            out.append(TargetOutcome(item.target, "ok", changed=1))
        return out


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    ROOT["dir"] = tmp_path
    return tmp_path


def test_diff_items_are_immutable_and_serializable() -> None:
    item = DiffItem("update", "web01", "motd", diff="-a\n+b\n", ci_id=3)
    assert DiffItem.from_dict(item.as_dict()) == item
    with pytest.raises(AttributeError):
        item.target = "x"  # type: ignore[misc]


def test_dry_run_then_apply_with_a_failing_action(folder: Path) -> None:
    dry = run_execute(ReconcileRun.objects.create(reconciler="test-folder", dry_run=True))
    assert dry.status == "completed" and dry.drift_count == 2 and not list(folder.iterdir())
    assert "+ [a] file a (planned)" in plan_text(dry.actions.all())
    (folder / "b.readonly").write_text("")
    applied = run_execute(ReconcileRun.objects.create(reconciler="test-folder", dry_run=False))
    assert applied.status == "failed" and applied.failed_count == 1 and applied.remaining_drift == 1
    assert dict(applied.actions.values_list("target", "result")) == {"a": "ok", "b": "failed"}
    assert (folder / "a").read_text() == "want a"
    assert Lease.objects.count() == 0  # released


def test_one_run_per_scope_and_a_dead_workers_lease_expires(folder: Path) -> None:
    # A worker took the lease and died (never renewed nor released it).
    now = timezone.now()
    assert lease_acquire(lease_name("test-folder", "all"), "dead-worker", ttl=30, now=now)
    skipped = run_execute(ReconcileRun.objects.create(reconciler="test-folder", dry_run=False))
    assert skipped.status == "skipped" and not list(folder.iterdir())
    # Another scope is independent.
    other = run_execute(ReconcileRun.objects.create(reconciler="test-folder", scope="other", dry_run=True))
    assert other.status == "completed"
    # Once the lease has run out, the next run proceeds.
    Lease.objects.update(expires=now - dt.timedelta(seconds=1))
    done = run_execute(ReconcileRun.objects.create(reconciler="test-folder", dry_run=False))
    assert done.status == "completed" and (folder / "b").exists()


def test_api_lists_runs_shows_plans_and_triggers_runs(folder: Path, api: Any, make_user: Any,
                                                       client_for: Any, settings: Any) -> None:
    settings.TASKS = DB_TASKS
    r = api.post("/api/reconcile/runs/", {"reconciler": "test-folder", "scope": "all", "dry_run": True},
                 format="json")
    assert r.status_code == 201, r.json()
    run_id = r.json()["id"]
    assert r.json()["status"]["value"] == "pending" and r.json()["job"]["id"]
    run_tasks(holder="w", burst=True, fork=False)
    body = api.get(f"/api/reconcile/runs/{run_id}/").json()
    assert body["status"]["value"] == "completed" and body["drift_count"] == 2 and body["user"] == "admin"
    plan = api.get(f"/api/reconcile/runs/{run_id}/plan/").json()
    assert plan["count"] == 2 and plan["items"][0]["diff"] == "-None\n+want a\n"
    text = api.get(f"/api/reconcile/runs/{run_id}/plan/?output=text")
    assert text.status_code == 200 and b"+ [b] file b" in text.content
    assert api.get("/api/reconcile/runs/?reconciler=test-folder&status=completed").json()["count"] == 1
    assert api.post("/api/reconcile/runs/", {"reconciler": "nope"}, format="json").status_code == 400
    # A user who may only view cannot trigger, and anonymous users see nothing.
    viewer = make_user("viewer")
    from cmdb.users.models import ObjectPermission

    perm = ObjectPermission.objects.create(name="view runs", object_types=["reconcile.reconcilerun"],
                                           actions=["view", "add"])
    perm.users.add(viewer)
    client = client_for(viewer)
    assert client.get("/api/reconcile/runs/").json()["count"] == 1
    assert client.post("/api/reconcile/runs/", {"reconciler": "test-folder"}, format="json").status_code == 201
    denied = client.post("/api/reconcile/runs/", {"reconciler": "test-folder", "dry_run": False}, format="json")
    assert denied.status_code == 403
    from rest_framework.test import APIClient

    assert APIClient().get("/api/reconcile/runs/").status_code in (401, 403)
