"""Create, list and revoke API tokens from the command line.

This is the operator's tool: whoever runs it already controls the server and its database, so it
asks for no second factor (the API and the web UI do, see :mod:`cmdb.users.services`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cmdb.users.models import Token
from cmdb.users.services import token_create


def parse_expiry(value: str) -> dt.datetime:
    """Accept '30d', '12h', '90m' or an ISO date/time."""
    match = re.fullmatch(r"(\d+)([dhm])", value.strip())
    if match:
        n, unit = int(match.group(1)), match.group(2)
        delta = {"d": dt.timedelta(days=n), "h": dt.timedelta(hours=n), "m": dt.timedelta(minutes=n)}[unit]
        return timezone.now() + delta
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--expires {value!r}: use e.g. 30d, 12h or 2027-03-31") from exc
    return parsed if parsed.tzinfo else timezone.make_aware(parsed)


class Command(BaseCommand):
    help = "Manage API tokens. 'cmdb token create USERNAME' prints the new key on its last line."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token (read-only unless --write)")
        create.add_argument("username")
        create.add_argument("--write", action="store_true", help="allow writes (default: read-only)")
        create.add_argument("--expires", help="expiry: 30d, 12h, 90m or an ISO date/time")
        create.add_argument("--description", default="")
        create.add_argument("--allowed-ips", nargs="*", default=[], metavar="CIDR",
                            help="only accept the token from these networks")
        listing = sub.add_parser("list", help="list tokens (prefixes only; keys are not stored)")
        listing.add_argument("username", nargs="?")
        revoke = sub.add_parser("revoke", help="delete a token by id")
        revoke.add_argument("id", type=int)

    def handle(self, *args: Any, **opts: Any) -> None:
        getattr(self, f"_{opts['action']}")(opts)

    def _create(self, opts: dict[str, Any]) -> None:
        user = get_user_model().objects.filter(username=opts["username"]).first()
        if user is None:
            raise CommandError(f"No user named {opts['username']!r}.")
        expires = parse_expiry(opts["expires"]) if opts["expires"] else None
        if expires is not None and expires <= timezone.now():
            raise CommandError(f"--expires {opts['expires']!r} lies in the past; a token must expire in the future.")
        try:
            token, key = token_create(user=user, write_enabled=opts["write"], expires=expires,
                                      description=opts["description"], allowed_ips=opts["allowed_ips"])
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        mode = "read-write" if token.write_enabled else "read-only"
        until = f", expires {token.expires:%Y-%m-%d %H:%M}" if token.expires else ""
        self.stdout.write(f"Created {mode} token #{token.pk} for {user.username}{until}. Store the key now:")
        self.stdout.write(key)

    def _list(self, opts: dict[str, Any]) -> None:
        qs = Token.objects.select_related("user").order_by("id")
        if opts["username"]:
            qs = qs.filter(user__username=opts["username"])
        for t in qs:
            mode = "write" if t.write_enabled else "read"
            self.stdout.write(f"{t.pk:>5}  {t.user.username:<20} {t.key_prefix}…  {mode:<5}  "
                              f"expires={t.expires or '-'}  last_used={t.last_used or '-'}  {t.description}")

    def _revoke(self, opts: dict[str, Any]) -> None:
        token = Token.objects.filter(pk=opts["id"]).first()
        if token is None:
            raise CommandError(f"No token #{opts['id']}.")
        from cmdb.core.context import change_logging

        with change_logging(source="cli"):
            token.delete()
        self.stdout.write(f"Revoked token #{opts['id']}.")
