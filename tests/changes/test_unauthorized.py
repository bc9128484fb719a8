"""Unauthorized changes: drift a reconciler found, or a change discovery recorded, on a CI no approved in-window
change covered — recorded once (scans are idempotent), listed, counted by the metric, acknowledged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cmdb.changes.approvals import decide
from cmdb.changes.metrics import collect
from cmdb.changes.models import ChangeState, UnauthorizedChange
from cmdb.changes.transitions import transition
from cmdb.changes.unauthorized import scan_discovery, scan_drift
from cmdb.core.context import change_logging
from cmdb.reconcile.models import CIDrift, ReconcileRun
from cmdb.reconcile.services import run_execute
from tests import factories as f

from .helpers import make_change

S = ChangeState


def _samples(name: str) -> dict[tuple[str, ...], float]:
    family = next(m for m in collect() if m.name == name)
    return {tuple(s.labels.values()): s.value for s in family.samples}


@pytest.mark.django_db(transaction=True)
def test_drift_found_by_a_reconciler_is_an_unauthorized_change(folder: Path, make_user: Any, api: Any) -> None:
    web, db = f.device("web01"), f.device("db01")
    scope = f"ci:{web.ci_id},{db.ci_id}"
    assert run_execute(ReconcileRun.objects.create(reconciler="folder", scope=scope, dry_run=False)).status == \
        "completed"
    assert scan_drift() == 0  # in sync
    # Someone edits both files by hand; db01 is covered by an approved change in its window.
    rita, root = make_user("rita"), make_user("root", superuser=True)
    change = make_change(db, requester=rita)
    transition(change, S.SUBMITTED, user=rita)
    decide(change, root, "approve")
    for path in folder.iterdir():
        path.write_text("edited by hand\n")
    run = run_execute(ReconcileRun.objects.create(reconciler="folder", scope=scope, dry_run=True))
    assert CIDrift.objects.get(ci_id=web.ci_id).status == "drifted"

    assert scan_drift() == 1
    assert scan_drift() == 0  # one row per drift episode
    row = UnauthorizedChange.objects.get()
    assert row.ci_id == web.ci_id and row.source == "reconcile" and not row.acknowledged
    assert row.detail["reconciler"] == "folder" and row.detail["run"] == run.pk
    assert row.detail["items"][0]["diff"].startswith("-edited by hand")
    assert _samples("cmdb_changes_unauthorized") == {("false",): 1, ("true",): 0}

    listed = api.get("/api/changes/unauthorized/?acknowledged=false").json()
    assert listed["count"] == 1 and listed["results"][0]["ci"]["id"] == web.ci_id
    answer = api.post(f"/api/changes/unauthorized/{row.pk}/acknowledge/", {"comment": "student helper, talked"},
                      format="json")
    assert answer.status_code == 200 and answer.json()["acknowledged"] is True
    assert _samples("cmdb_changes_unauthorized") == {("false",): 0, ("true",): 1}


@pytest.mark.django_db
def test_changes_found_by_discovery_without_a_change(make_user: Any) -> None:
    web, db = f.device("web01", serial="A1"), f.device("db01", serial="B1")
    rita, root = make_user("rita"), make_user("root", superuser=True)
    change = make_change(db, requester=rita)
    transition(change, S.SUBMITTED, user=rita)
    decide(change, root, "approve")
    with change_logging(source="discovery:agent:web01"):
        for device, serial in ((web, "A2"), (db, "B2")):
            device.serial = serial
            device.save()
    with change_logging(source="discovery:staleness"):  # bookkeeping, not an observation
        web.status = "offline"
        web.save()
    with change_logging(source="api"):  # a person through the API: not discovery's finding
        web.description = "edited"
        web.save()

    assert scan_discovery() == 1
    assert scan_discovery() == 0
    row = UnauthorizedChange.objects.get()
    assert row.ci_id == web.ci_id and row.source == "discovery"
    assert row.detail == {"fields": {"serial": ["A1", "A2"]}, "source": "discovery:agent:web01"}
    assert row.source_ref.startswith("discovery:agent:web01 ")
