"""``cmdb ldap``: campus logins from the command line.

- ``cmdb ldap check USER`` — what the directory says about USER (found with the service account,
  no password): DN, names, groups, the local groups the mappings give, whether the group rules
  let them in.  The first thing to run after configuring ``LDAP_*``.
- ``cmdb ldap map DN GROUP`` / ``cmdb ldap unmap DN [GROUP]`` / ``cmdb ldap mappings`` — the
  LDAP group → local group mappings (also in the admin), change-logged.
- ``cmdb ldap sync [--dry-run]`` — ask the directory about every directory account: deactivate
  those it no longer has (their tokens stop), refresh everyone's groups and flags.
- ``cmdb ldap accounts`` — the directory accounts, when each was last read, which are suspended.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cmdb.core.context import change_logging
from cmdb.users.directory import normalise_dn, sync_accounts
from cmdb.users.models import DirectoryAccount, LDAPGroupMapping


class Command(BaseCommand):
    help = "Campus logins (LDAP / Active Directory): check a user, manage group mappings, sync accounts."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        check = sub.add_parser("check", help="look a user up in the directory with the service account")
        check.add_argument("username")
        mapping = sub.add_parser("map", help="members of the LDAP group DN join the local GROUP (created if new)")
        mapping.add_argument("dn")
        mapping.add_argument("group")
        mapping.add_argument("--description", default="")
        unmap = sub.add_parser("unmap", help="remove the mapping(s) of DN (to GROUP only, if given)")
        unmap.add_argument("dn")
        unmap.add_argument("group", nargs="?")
        sub.add_parser("mappings", help="list the mappings")
        sync = sub.add_parser("sync", help="re-read every directory account; deactivate those the directory lost")
        sync.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
        sub.add_parser("accounts", help="list the directory accounts")

    def handle(self, *args: Any, **opts: Any) -> None:
        getattr(self, f"_{opts['action']}")(opts)

    @staticmethod
    def _enabled() -> None:
        if not getattr(settings, "LDAP_ENABLED", False):
            raise CommandError("Campus logins are off: set LDAP_SERVER_URI and the other LDAP_* variables "
                               "(docs/security.md).")

    def _check(self, opts: dict[str, Any]) -> None:
        from cmdb.users.ldapbackend import (
            CampusLDAPBackend,
            DirectoryUnavailable,
            directory_fields,
            group_dns,
            qualifies,
        )

        self._enabled()
        backend = CampusLDAPBackend()
        try:
            entry = backend.lookup(opts["username"])
            if entry is None:
                raise CommandError(f"{opts['username']!r} is not found by the user search "
                                   f"({backend.settings.USER_SEARCH!r}).")
            fields = directory_fields(entry)
            dns = sorted(group_dns(entry) or [])
            allowed = qualifies(entry)
        except DirectoryUnavailable as exc:
            raise CommandError(f"The directory cannot be asked: {exc}") from exc
        self.stdout.write(f"dn: {entry.dn}")
        for name, value in sorted(fields.items()):
            self.stdout.write(f"{name}: {value}")
        mapped = {normalise_dn(dn) for dn in dns}
        local = sorted(set(LDAPGroupMapping.objects.filter(dn__in=mapped).values_list("group__name", flat=True)))
        for dn in dns:
            self.stdout.write(f"ldap group: {dn}")
        self.stdout.write(f"local groups: {', '.join(local) or '(none)'}")
        self.stdout.write(f"may log in: {'yes' if allowed else 'no (LDAP_REQUIRE_GROUP / LDAP_DENY_GROUP)'}")

    def _map(self, opts: dict[str, Any]) -> None:
        with change_logging(user=None, source="cli"), transaction.atomic():
            group, created = Group.objects.get_or_create(name=opts["group"])
            mapping = LDAPGroupMapping(dn=opts["dn"], group=group, description=opts["description"])
            try:
                mapping.full_clean()
            except ValidationError as exc:
                raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
            mapping.save()
        note = " (new local group: give it grants with an object permission)" if created else ""
        self.stdout.write(f"{mapping.dn} -> {group.name}{note}")

    def _unmap(self, opts: dict[str, Any]) -> None:
        try:
            dn = normalise_dn(opts["dn"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        rows = LDAPGroupMapping.objects.filter(dn=dn)
        if opts["group"]:
            rows = rows.filter(group__name=opts["group"])
        found = list(rows)
        if not found:
            raise CommandError(f"No mapping of {dn}" + (f" to {opts['group']}" if opts["group"] else "") + ".")
        with change_logging(user=None, source="cli"), transaction.atomic():
            for row in found:
                row.delete()
        self.stdout.write(f"removed {len(found)} mapping(s) of {dn}")

    def _mappings(self, opts: dict[str, Any]) -> None:
        for dn, group in LDAPGroupMapping.objects.order_by("dn", "group__name").values_list("dn", "group__name"):
            self.stdout.write(f"{dn} -> {group}")

    def _sync(self, opts: dict[str, Any]) -> None:
        from cmdb.users.directory import DirectoryUnavailable

        self._enabled()
        try:
            report = sync_accounts(dry_run=opts["dry_run"], log=self.stdout.write)
        except DirectoryUnavailable as exc:
            raise CommandError(f"The directory cannot be asked; nothing was changed: {exc}") from exc
        verb = "would deactivate" if opts["dry_run"] else "deactivated"
        self.stdout.write(f"checked {report.checked}, {verb} {len(report.suspended)}, "
                          f"reactivated {len(report.reactivated)}, memberships changed {report.memberships_changed}")

    def _accounts(self, opts: dict[str, Any]) -> None:
        for account in DirectoryAccount.objects.select_related("user"):
            state = "suspended" if account.suspended else ("active" if account.user.is_active else "deactivated")
            self.stdout.write(f"{account.user.get_username()}\t{state}\t{account.synced:%Y-%m-%d %H:%M}\t{account.dn}")
