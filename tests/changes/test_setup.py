"""The tick schedule is part of a working instance: ``cmdb setup`` runs every app's ``setup_step``, and
change management's creates the every-minute ``changes.tick`` schedule, once."""

from __future__ import annotations

import pytest

from cmdb.changes.jobs import SCHEDULE_NAME, ensure_tick_schedule
from cmdb.core.domains import setup_steps
from cmdb.jobs.models import Schedule

pytestmark = pytest.mark.django_db


def test_setup_steps_include_the_change_tick_schedule_and_it_is_idempotent() -> None:
    assert ensure_tick_schedule in setup_steps()
    assert not Schedule.objects.filter(job_name="changes.tick").exists()
    said = [step() for step in setup_steps()]
    assert f"schedule {SCHEDULE_NAME!r} created" in said
    schedule = Schedule.objects.get(job_name="changes.tick")
    assert schedule.cron == "* * * * *" and schedule.enabled
    assert ensure_tick_schedule() == f"schedule {SCHEDULE_NAME!r} exists"
    assert Schedule.objects.filter(job_name="changes.tick").count() == 1
