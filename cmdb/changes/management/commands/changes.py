"""``cmdb changes``: the change-management tick by hand, its schedule, and the gate from a shell.

::

    cmdb changes schedule            # create the every-minute "changes.tick" schedule (idempotent)
    cmdb changes tick                # start due changes, re-assess, record unauthorized changes, now
    cmdb changes gate --ci 12 --ci 13 [--plan 7] [--reconciler ansible]   # exit 0 allow, 3 deny
    cmdb changes list [--state submitted]
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Change management: tick, schedule, gate, list."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("schedule", help="Create the every-minute changes.tick schedule")
        sub.add_parser("tick", help="Start due changes, re-assess pending ones, record unauthorized changes")
        gate = sub.add_parser("gate", help="Ask the gate; exit status 3 when denied")
        gate.add_argument("--ci", type=int, action="append", default=[], metavar="ID",
                          help="Registry id of a CI to change (repeat for several)")
        gate.add_argument("--plan", type=int, default=None, metavar="ID",
                          help="The stored reconcile plan to be applied (must be the approved one)")
        gate.add_argument("--reconciler", default=None, metavar="NAME", help="Who asks, e.g. ansible or k8s")
        listing = sub.add_parser("list", help="Changes with state, window and title")
        listing.add_argument("--state", default=None, help="Only changes in this state, e.g. scheduled")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "schedule":
            self._schedule()
        elif action == "tick":
            from cmdb.changes.jobs import tick

            self.stdout.write(json.dumps(tick(), sort_keys=True, default=str))
        elif action == "gate":
            self._gate(options)
        elif action == "list":
            from cmdb.changes.models import Change

            qs = Change.objects.order_by("window_start", "pk")
            if options["state"]:
                qs = qs.filter(state=options["state"])
            for c in qs:
                self.stdout.write(f"{c.pk}\t{c.state}\t{c.type}\t{c.window_start}\t{c.title}")

    def _schedule(self) -> None:
        from cmdb.changes.jobs import ensure_tick_schedule

        self.stdout.write(ensure_tick_schedule())

    def _gate(self, options: dict[str, Any]) -> None:
        from cmdb.changes.gate import decide
        from cmdb.reconcile.models import Plan

        plan = None
        if options["plan"] is not None:
            plan = Plan.objects.filter(pk=options["plan"]).first()
            if plan is None:
                raise CommandError(f"No plan {options['plan']}.")
        decision = decide(options["ci"], plan=plan, reconciler=options["reconciler"])
        self.stdout.write(json.dumps(decision.as_dict(), sort_keys=True))
        if not decision.allow:
            raise SystemExit(3)
