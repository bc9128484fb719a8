"""Change-management metrics for /metrics (collected by the monitoring app; four queries in all).

``cmdb_changes{state,type}``                changes by state and type
``cmdb_changes_finished{outcome}``          closed changes of the last 30 days by outcome
``cmdb_changes_success_ratio``              completed / (completed + failed + rolled back), last 30 days
``cmdb_change_collisions``                  collisions between open changes
``cmdb_changes_overrunning``                changes in progress past their window's end
``cmdb_changes_unauthorized{acknowledged}`` unauthorized changes recorded
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from .models import OPEN_STATES, Change, ChangeCollision, ChangeState, ChangeType, UnauthorizedChange

ENDED = (ChangeState.COMPLETED, ChangeState.FAILED, ChangeState.ROLLED_BACK)


def collect() -> Iterable[Metric]:
    now = timezone.now()
    by_state = GaugeMetricFamily("cmdb_changes", "Changes by state and type", labels=["state", "type"])
    counts = {(s, t): n for s, t, n in Change.objects.values_list("state", "type").annotate(n=Count("id"))
              .values_list("state", "type", "n").order_by()}
    for state in ChangeState.values:
        for kind in ChangeType.values:
            by_state.add_metric([state, kind], counts.get((state, kind), 0))
    yield by_state

    finished = GaugeMetricFamily("cmdb_changes_finished", "Changes closed in the last 30 days by outcome",
                                 labels=["outcome"])
    recent = dict(Change.objects.filter(state__in=ENDED, finished_at__gte=now - dt.timedelta(days=30))
                  .values_list("state").annotate(n=Count("id")).values_list("state", "n").order_by())
    for state in ENDED:
        finished.add_metric([state], recent.get(state, 0))
    yield finished
    total = sum(recent.values())
    ratio = GaugeMetricFamily("cmdb_changes_success_ratio",
                              "Completed among closed changes of the last 30 days (1 when none closed)")
    ratio.add_metric([], recent.get(ChangeState.COMPLETED, 0) / total if total else 1.0)
    yield ratio

    collisions = GaugeMetricFamily("cmdb_change_collisions", "Collisions between open changes")
    collisions.add_metric([], ChangeCollision.objects.filter(change_a__state__in=OPEN_STATES,
                                                             change_b__state__in=OPEN_STATES).count())
    yield collisions

    overrun = GaugeMetricFamily("cmdb_changes_overrunning", "Changes in progress past the end of their window")
    overrun.add_metric([], Change.objects.filter(state=ChangeState.IN_PROGRESS, window_end__lt=now).count())
    yield overrun

    unauthorized = GaugeMetricFamily("cmdb_changes_unauthorized", "Unauthorized changes recorded",
                                     labels=["acknowledged"])
    acks = dict(UnauthorizedChange.objects.values_list("acknowledged").annotate(n=Count("id"))
                .values_list("acknowledged", "n").order_by())
    for flag in (False, True):
        unauthorized.add_metric(["true" if flag else "false"], acks.get(flag, 0))
    yield unauthorized
