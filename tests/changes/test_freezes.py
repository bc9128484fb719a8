"""Freezes block normal changes to CIs of their services, tenants and sites (or all CIs); emergency changes
pass with their reason recorded; outside the freeze's period or scope nothing is blocked."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from cmdb.changes.freezes import blocking
from cmdb.changes.models import ChangeState, ChangeTransition, ChangeType, Freeze
from cmdb.changes.transitions import TransitionRefused, transition
from tests import factories as f
from tests.services.graphs import G

from .helpers import make_change

pytestmark = pytest.mark.django_db
S = ChangeState


def _freeze(name: str, start_in: float = -1, hours: float = 48, **scope: Any) -> Freeze:
    start = timezone.now() + dt.timedelta(hours=start_in)
    freeze = Freeze.objects.create(name=name, start=start, end=start + dt.timedelta(hours=hours),
                                   reason=scope.pop("reason", ""))
    for field, values in scope.items():
        getattr(freeze, field).set(values)
    return freeze


def test_blocking_by_service_tenant_site_and_everything() -> None:
    physics = f.tenant("Physics")
    goerlitz = f.site("Goerlitz")
    web = f.device("web01")  # Zittau, no tenant
    lab = f.device("lab01", tenant=physics)
    gr = f.device("gr01", at=goerlitz)
    g = G()
    g.ids["web"] = web.ci_id
    portal = g.service("portal")
    g.edge("portal", "depends_on", "web")
    start, end = timezone.now(), timezone.now() + dt.timedelta(hours=1)

    exams = _freeze("exam weeks", services=[portal])
    assert blocking([web.ci_id], start, end, "normal") == [exams]
    assert blocking([portal.ci_id], start, end, "normal") == [exams]  # the service's own CI
    assert blocking([lab.ci_id, gr.ci_id], start, end, "normal") == []
    assert blocking([web.ci_id], start, end, "emergency") == []
    assert blocking([web.ci_id], start, end, "standard") == []  # blocks_types defaults to normal only
    exams.delete()

    by_tenant = _freeze("physics lab move", tenants=[physics])
    assert blocking([lab.ci_id, web.ci_id], start, end, "normal") == [by_tenant]
    assert blocking([web.ci_id], start, end, "normal") == []
    by_tenant.delete()

    by_site = _freeze("Goerlitz power work", sites=[goerlitz])
    assert blocking([gr.ci_id], start, end, "normal") == [by_site]
    assert blocking([web.ci_id, lab.ci_id], start, end, "normal") == []
    by_site.delete()

    everything = _freeze("semester start", start_in=2, hours=24)
    later = (timezone.now() + dt.timedelta(hours=3), timezone.now() + dt.timedelta(hours=4))
    assert blocking([web.ci_id], *later, "normal") == [everything]
    assert blocking([web.ci_id], start, end, "normal") == []  # before the freeze
    everything.blocks_types = ["normal", "standard"]
    everything.save()
    assert blocking([web.ci_id], *later, "standard") == [everything]


def test_normal_changes_are_refused_and_emergencies_pass_with_their_reason(make_user: Any) -> None:
    rita = make_user("rita")
    web = f.device("web01")
    _freeze("exam weeks", reason="exams in all lecture halls")
    normal = make_change(web, requester=rita)
    with pytest.raises(TransitionRefused) as refused:
        transition(normal, S.SUBMITTED, user=rita)
    assert "freeze 'exam weeks' blocks normal changes from" in str(refused.value)
    assert "(exams in all lecture halls)" in str(refused.value)
    assert normal.state == S.DRAFT

    emergency = make_change(web, requester=rita, type=ChangeType.EMERGENCY,
                            emergency_reason="CVE-2026-1234 exploited in the wild")
    transition(emergency, S.SUBMITTED, user=rita, reason="patch now")
    recorded = ChangeTransition.objects.get(change=emergency, to_state=S.SUBMITTED).reason
    assert recorded.startswith("patch now\nfreeze 'exam weeks' (")
    assert recorded.endswith("passed as an emergency: CVE-2026-1234 exploited in the wild")


def test_a_freeze_made_after_approval_blocks_scheduling(make_user: Any) -> None:
    rita, admin = make_user("rita"), make_user("root", superuser=True)
    web = f.device("web01")
    change = make_change(web, requester=rita)
    transition(change, S.SUBMITTED, user=rita)
    from cmdb.changes.approvals import decide

    decide(change, admin, "approve")
    _freeze("semester start")
    change.refresh_from_db()
    with pytest.raises(TransitionRefused, match="freeze 'semester start' blocks normal changes"):
        transition(change, S.SCHEDULED, user=admin)
