"""Change management's demo step on the real demo university (``cmdb demo``, rolled back afterwards).

The demo is generated once for the module inside a transaction that is rolled back at the end, as
tests/demo/test_demo.py does; every test here reads it (or writes inside its own savepoint).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.utils import timezone

from cmdb.changes import demo
from cmdb.changes.models import (
    Approval,
    ApprovalGroup,
    Change,
    ChangeCollision,
    ChangeState,
    ChangeTemplate,
    ChangeTransition,
    ChangeType,
    Freeze,
)
from cmdb.changes.transitions import TransitionRefused, transition
from cmdb.core.models import ObjectChange

from .helpers import make_change


@pytest.fixture(scope="module")
def university(django_db_setup: Any, django_db_blocker: Any) -> Iterator[str]:
    """``cmdb demo`` once for the module (its extend stage runs the change step), rolled back afterwards."""
    with django_db_blocker.unblock(), transaction.atomic():
        out = io.StringIO()
        call_command("demo", quiet=True, stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


def _changes() -> dict[str, Change]:
    by_title = {c.title: c for c in Change.objects.all()}
    return {
        "draft": by_title["Upgrade Moodle to 4.5"],
        "switch": by_title["Firmware upgrade of core switch core-zi-01"],
        "hypervisor": by_title["Patch ESXi on esx-zi-01"],
        "standard": by_title["Monthly OS updates of web-cms"],
        "emergency": by_title["Emergency: patch exam-app against an actively exploited vulnerability"],
    }


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("university")]


def test_the_step_writes_the_freeze_the_cab_the_template_and_changes_in_every_phase() -> None:
    freeze = Freeze.objects.get(name=demo.FREEZE)
    assert set(freeze.services.values_list("slug", flat=True)) == {"examinations", "campus-management"}
    assert freeze.start < timezone.now() < freeze.end and freeze.blocks_types == ["normal"]
    cab = ApprovalGroup.objects.get(name=demo.CAB)
    assert cab.quorum == 2 and cab.members.count() == 3
    assert not any(u.has_usable_password() for u in cab.members.all())
    assert ChangeTemplate.objects.filter(name=demo.TEMPLATE).exists()
    changes = _changes()
    assert Change.objects.count() == len(changes)
    assert {k: c.state for k, c in changes.items()} == {
        "draft": "draft", "switch": "submitted", "hypervisor": "scheduled", "standard": "completed",
        "emergency": "completed"}
    # The switch change was assessed on submit: services impacted through the core, a risk score with factors.
    switch = changes["switch"]
    assert switch.risk_score is not None and switch.risk_score > 0 and switch.assessed_at is not None
    assert switch.assessment["services"] and switch.assessment["summary"]["affected"] > 1
    assert {f["name"] for f in switch.assessment["risk"]["factors"]} >= {"criticality", "blast_radius"}
    # Approvals went through the CAB's quorum; the standard change was pre-approved by its template.
    assert Approval.objects.filter(change=changes["hypervisor"], group=cab, decision="approve").count() == 2
    standard_reasons = list(changes["standard"].transitions.values_list("reason", flat=True))
    assert any("pre-approved by template" in r for r in standard_reasons)
    # The emergency passed the freeze, and its transition says which freeze and why.
    submit = changes["emergency"].transitions.get(to_state="submitted")
    assert "'Exam weeks'" in submit.reason and "passed as an emergency" in submit.reason
    assert "exploited in the wild" in submit.reason
    path = list(changes["emergency"].transitions.order_by("at", "pk").values_list("to_state", flat=True))
    assert path == ["submitted", "approved", "scheduled", "in_progress", "completed"]
    # Attributed to the demo, outside the core demo's single change-log request.
    assert ObjectChange.objects.filter(source=demo.SOURCE).values("request_id").distinct().count() == 1


def test_the_scheduled_change_collides_with_the_switch_upgrade_on_the_calendar() -> None:
    changes = _changes()
    switch, esx = changes["switch"], changes["hypervisor"]
    row = ChangeCollision.objects.get()
    assert (row.change_a_id, row.change_b_id) == tuple(sorted((switch.pk, esx.pk)))
    assert row.shared_ci_ids and esx.cis.get().pk in switch.blast_radius
    admin = get_user_model().objects.create_superuser("cal-check", password="x-" * 8)
    client = Client()
    client.force_login(admin)
    html = client.get("/changes/calendar/", {"view": "week", "date": switch.window_start.date().isoformat()}
                      ).content.decode()
    assert f"collides with CHG{esx.pk}" in html and f"collides with CHG{switch.pk}" in html


def test_the_freeze_refuses_a_normal_change_to_the_exam_servers() -> None:
    exam = demo._cis()["exam"]
    change = make_change(exam, title="Reboot exam-app01")  # a window around now, inside the freeze
    with pytest.raises(TransitionRefused, match="freeze 'Exam weeks' blocks normal changes"):
        transition(change, ChangeState.SUBMITTED)
    assert Change.objects.get(pk=change.pk).state == ChangeState.DRAFT
    # The same change as an emergency passes (reason recorded).
    Change.objects.filter(pk=change.pk).update(type=ChangeType.EMERGENCY, emergency_reason="disk full")
    change.refresh_from_db()
    assert transition(change, ChangeState.SUBMITTED).state == ChangeState.SUBMITTED


def test_a_second_run_writes_nothing() -> None:
    tables = (Change, ChangeTransition, Approval, ChangeCollision, Freeze, ApprovalGroup, ChangeTemplate,
              ObjectChange, get_user_model())
    before = {m.__name__: m.objects.count() for m in tables}
    assert demo.demo_step(2026) == {"created": False}
    out = io.StringIO()
    call_command("demo", quiet=True, stdout=out)
    assert "already present" in out.getvalue()
    assert {m.__name__: m.objects.count() for m in tables} == before


def test_the_step_never_puts_an_existing_account_on_the_cab() -> None:
    """Without the demo's changes but with its user names taken, the step writes nothing; once they are free it
    writes the whole story again (one transaction)."""
    Change.objects.all().delete()
    Freeze.objects.all().delete()
    ApprovalGroup.objects.all().delete()
    ChangeTemplate.objects.all().delete()
    names = [demo.REQUESTER[0], *(m[0] for m in demo.CAB_MEMBERS)]
    assert demo.demo_step(2026) == {"created": False, "users_exist": sorted(names)}
    assert not Change.objects.exists() and not Freeze.objects.exists()
    get_user_model().objects.filter(username__in=names).delete()
    result = demo.demo_step(2026)
    assert result["created"] and set(result["changes"]) == {"draft", "switch", "hypervisor", "standard", "emergency"}
    assert ChangeCollision.objects.count() == 1
