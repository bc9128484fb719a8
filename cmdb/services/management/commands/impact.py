"""``cmdb impact <ci> [<ci> ...] [--mode down|degraded] [--json]``: impact analysis from the shell."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cmdb.core.models.registry import ConfigurationItem
from cmdb.services.impact import MODES, UnknownCI, impact_of


def resolve(ref: str) -> int:
    """A CI by registry id or by (unique) name."""
    if ref.isdigit():
        return int(ref)
    found = list(ConfigurationItem.objects.filter(name=ref).values_list("pk", "kind")[:5])
    if not found:
        raise CommandError(f"No CI named {ref!r}.")
    if len(found) > 1:
        raise CommandError(f"{ref!r} is ambiguous: " + ", ".join(f"{pk} ({kind})" for pk, kind in found))
    return found[0][0]


class Command(BaseCommand):
    help = "What fails or degrades when the given CIs (ids or names) fail."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("ci", nargs="+", help="CI registry id or name")
        parser.add_argument("--mode", choices=list(MODES), default="down")
        parser.add_argument("--json", action="store_true", help="the API's JSON answer")
        parser.add_argument("--limit", type=int, default=50, help="affected CIs to list (0 = all)")

    def handle(self, *args: Any, **opts: Any) -> None:
        ids = [resolve(ref) for ref in opts["ci"]]
        try:
            result = impact_of(ids, mode=opts["mode"])
        except UnknownCI as exc:
            raise CommandError(str(exc)) from exc
        if opts["json"]:
            self.stdout.write(json.dumps(result.as_dict(limit=opts["limit"] or None), indent=2, default=str))
            return
        s = result.summary()
        failed = ", ".join(f"{f['name']} ({f['kind']})" for f in result.failed)
        self.stdout.write(f"If {failed} {'fail' if opts['mode'] == 'down' else 'degrade'}: "
                          f"{s['affected']} CIs affected ({s['down']} down, {s['degraded']} degraded), "
                          f"{s['services']} services.")
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
                self.stdout.write(f"  {a['state']:<9} {a['kind']:<32} {a['name']:<32} {' > '.join(a['path_names'])}")
            if len(page) < s["affected"]:
                self.stdout.write(f"  ... and {s['affected'] - len(page)} more (--limit 0 lists all)")
        if result.tenants:
            self.stdout.write("\nNotify tenants: " + ", ".join(t["name"] for t in result.tenants))
        if result.contacts:
            self.stdout.write("Contacts: " + ", ".join(
                f"{c['name']} <{c['email']}>" if c["email"] else c["name"] for c in result.contacts))
