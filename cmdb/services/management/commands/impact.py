"""``cmdb impact <ci> [<ci> ...] [--mode down|degraded] [--json]``: impact analysis from the shell."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cmdb.services.impact import MODES, UnknownCI, failure_heading, impact_of, resolve_refs


def headline(failed: list[dict[str, Any]], mode: str, summary: dict[str, int]) -> str:
    """``If core-zi-01 (dcim.device) fails: 12 CIs affected (...)``."""
    heading = failure_heading([f"{f['name']} ({f['kind']})" for f in failed], mode)
    return (f"{heading}: {summary['affected']} CIs affected ({summary['down']} down, "
            f"{summary['degraded']} degraded), {summary['services']} services.")


class Command(BaseCommand):
    help = "What fails or degrades when the given CIs (ids or names) fail."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("ci", nargs="+", help="CI registry id or name")
        parser.add_argument("--mode", choices=list(MODES), default="down")
        parser.add_argument("--json", action="store_true", help="the API's JSON answer")
        parser.add_argument("--limit", type=int, default=50, help="affected CIs to list (0 = all)")

    def handle(self, *args: Any, **opts: Any) -> None:
        ids, errors = resolve_refs(opts["ci"])
        if errors:
            raise CommandError("; ".join(errors))
        try:
            result = impact_of(ids, mode=opts["mode"])
        except UnknownCI as exc:
            raise CommandError(str(exc)) from exc
        if opts["json"]:
            self.stdout.write(json.dumps(result.as_dict(limit=opts["limit"] or None), indent=2, default=str))
            return
        s = result.summary()
        self.stdout.write(headline(result.failed, opts["mode"], s))
        if result.services:
            self.stdout.write("\nServices:")
            for svc in result.services:
                sla = f"SLA {svc['sla_availability']}%" if svc["sla_availability"] is not None else "no SLA"
                self.stdout.write(f"  {svc['state']:<9} {svc['name']:<40} {sla}, {svc['criticality']}  "
                                  f"via {' > '.join(svc['path_names'])}")
        page = result.page(opts["limit"] or None)
        if page:
            self.stdout.write("\nAffected CIs:")
            for a in page:
                why = f"  ({a['reason']})" if a.get("reason") else ""
                self.stdout.write(f"  {a['state']:<9} {a['kind']:<32} {a['name']:<32} "
                                  f"{' > '.join(a['path_names'])}{why}")
            if len(page) < s["affected"]:
                self.stdout.write(f"  ... and {s['affected'] - len(page)} more (--limit 0 lists all)")
        if result.tenants:
            self.stdout.write("\nNotify tenants: " + ", ".join(t["name"] for t in result.tenants))
        if result.contacts:
            self.stdout.write("Contacts: " + ", ".join(
                f"{c['name']} <{c['email']}>" if c["email"] else c["name"] for c in result.contacts))
