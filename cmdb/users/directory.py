"""Directory accounts and their local groups: what an LDAP login or a sync changes in the database.

The flow of a campus login (:mod:`cmdb.users.ldapbackend`): the directory checks the password,
django-auth-ldap creates or updates the local user (names, e-mail, superuser/staff flags), and
:func:`record_login` stores the user's LDAP group DNs and sets their local groups from the
:class:`~cmdb.users.models.LDAPGroupMapping` rows.  Grants (:mod:`cmdb.users.permissions`) and
the second-factor rule (:mod:`cmdb.ui.mfa`) read local groups only, so they need to know
nothing about LDAP.

Local groups are set by :func:`apply_mappings`, for any number of accounts with a fixed number
of queries: a user's groups become (their groups, minus what the directory gave before) plus (what
the mappings give for their DNs now).  Memberships an administrator gave by hand in unmapped groups
stay.  Because the DNs are stored, a new, changed or deleted mapping applies at once to everyone
who logged in before, without asking the directory.

:func:`sync_accounts` asks the directory about every account (``cmdb ldap sync``, the job
``users.ldap_sync``): accounts gone from it, or no longer in the required group, are deactivated,
which ends their sessions and their API tokens; the others get fresh groups and flags.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from .models import DirectoryAccount, LDAPGroupMapping

logger = logging.getLogger("cmdb.users.ldap")


class DirectoryUnavailable(Exception):
    """The directory could not be asked (down, timeout, TLS refused, service account refused).

    Defined here rather than beside the backend so that the login page can catch it without importing
    python-ldap, which only the ``ldap`` extra installs.
    """

    message = ("The campus directory (LDAP) cannot be reached right now, so campus accounts cannot log in. "
               "Try again in a few minutes; if it persists, tell the CMDB administrators.")


def normalise_dn(dn: str) -> str:
    """The DN in one spelling, so that ``CN=Physics-Admins, OU=Groups,DC=uni`` and
    ``cn=physics-admins,ou=groups,dc=uni`` match: attribute types and values lower-cased,
    no spaces around separators (group names are case-insensitive in OpenLDAP and AD alike)."""
    import ldap.dn

    text = (dn or "").strip()
    try:
        parts = ldap.dn.str2dn(text) if text else []
    except ldap.DECODING_ERROR:
        parts = []
    if not parts:
        raise ValueError(f"{text[:100]!r} is not a distinguished name, "
                         "e.g. cn=physics-admins,ou=groups,dc=uni,dc=example")
    return ldap.dn.dn2str([[(a.lower(), v.lower(), f) for a, v, f in rdn] for rdn in parts])


def _mapping_index() -> dict[str, set[int]]:
    index: dict[str, set[int]] = {}
    for dn, group_id in LDAPGroupMapping.objects.values_list("dn", "group_id"):
        index.setdefault(dn, set()).add(group_id)
    return index


def apply_mappings(accounts: Iterable[DirectoryAccount] | None = None) -> int:
    """Set the local groups of ``accounts`` (all directory accounts by default) from their stored DNs.

    Returns how many memberships were added or removed.  Four queries to read, at most four to write,
    however many accounts.
    """
    accounts = list(DirectoryAccount.objects.all() if accounts is None else accounts)
    if not accounts:
        return 0
    index = _mapping_index()
    user_ids = [a.user_id for a in accounts]
    memberships = get_user_model().groups.through
    granted_through = DirectoryAccount.granted.through
    current: dict[int, set[int]] = {}
    for user_id, group_id in memberships.objects.filter(user_id__in=user_ids).values_list("user_id", "group_id"):
        current.setdefault(user_id, set()).add(group_id)
    before: dict[int, set[int]] = {}
    for account_id, group_id in granted_through.objects.filter(
            directoryaccount_id__in=[a.pk for a in accounts]).values_list("directoryaccount_id", "group_id"):
        before.setdefault(account_id, set()).add(group_id)

    add, remove, grant_add, grant_remove = [], [], [], []
    for account in accounts:
        target = set().union(*(index.get(dn, set()) for dn in account.group_dns or []))
        had, gave = current.get(account.user_id, set()), before.get(account.pk, set())
        wanted = (had - gave) | target
        add += [(account.user_id, g) for g in wanted - had]
        remove += [(account.user_id, g) for g in had - wanted]
        grant_add += [(account.pk, g) for g in target - gave]
        grant_remove += [(account.pk, g) for g in gave - target]
    if not (add or remove or grant_add or grant_remove):
        return 0
    with transaction.atomic():
        if remove:
            _delete_pairs(memberships, "user_id", remove)
        if grant_remove:
            _delete_pairs(granted_through, "directoryaccount_id", grant_remove)
        memberships.objects.bulk_create([memberships(user_id=u, group_id=g) for u, g in add])
        granted_through.objects.bulk_create([granted_through(directoryaccount_id=a, group_id=g) for a, g in grant_add])
    if add or remove:
        names = dict(Group.objects.filter(pk__in={g for _u, g in add + remove}).values_list("pk", "name"))
        users = dict(get_user_model().objects.filter(pk__in={u for u, _g in add + remove}).values_list("pk",
                                                                                                        "username"))
        for verb, pairs in (("joins", add), ("leaves", remove)):
            for user_id, group_id in pairs:
                logger.info("LDAP: %s %s group %s", users.get(user_id), verb, names.get(group_id))
    return len(add) + len(remove)


def _delete_pairs(model: Any, owner: str, pairs: list[tuple[int, int]]) -> None:
    """Delete (owner, group) rows with one filtered delete (a select and a delete), however many owners."""
    by_owner: dict[int, list[int]] = {}
    for owner_id, group_id in pairs:
        by_owner.setdefault(owner_id, []).append(group_id)
    from django.db.models import Q

    q = Q()
    for owner_id, group_ids in by_owner.items():
        q |= Q(**{owner: owner_id, "group_id__in": group_ids})
    model.objects.filter(q).delete()


def record_login(user: Any, *, dn: str, group_dns: Iterable[str] | None) -> DirectoryAccount:
    """Store what the directory said at a login (DN, groups) and set the user's local groups.

    ``group_dns`` is None when no group search is configured: the user's groups are then left as they are.
    A login proves the account is back in the directory, so a sync's suspension is lifted.
    """
    now = timezone.now()
    with transaction.atomic():
        account, _created = DirectoryAccount.objects.get_or_create(user=user, defaults={"dn": dn, "synced": now})
        account.dn, account.synced = dn, now
        if group_dns is not None:
            account.group_dns = sorted({normalise_dn(g) for g in group_dns})
        if account.suspended is not None:
            account.suspended = None
            if not user.is_active:
                user.is_active = True
                user.save(update_fields=["is_active"])
                logger.warning("LDAP: %s is back in the directory and active again", user.get_username())
        account.save()
        if group_dns is not None:
            apply_mappings([account])
    return account


def is_directory_account(user: Any) -> bool:
    return DirectoryAccount.objects.filter(user=user).exists()


@dataclass
class SyncReport:
    checked: int = 0
    updated: int = 0
    suspended: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)
    memberships_changed: int = 0


def sync_accounts(*, dry_run: bool = False, log: Callable[[str], None] | None = None) -> SyncReport:
    """Ask the directory about every directory account, with the service account (no user password).

    An account the user search no longer finds (deleted, moved out of the search base, or excluded
    by the filter, such as AD's disabled accounts), or that fails ``LDAP_REQUIRE_GROUP`` /
    ``LDAP_DENY_GROUP``, is deactivated and marked suspended.  When the directory cannot be
    asked (:class:`DirectoryUnavailable`) the sync stops before changing
    anything, so an outage never deactivates the campus.
    """
    from .ldapbackend import CampusLDAPBackend, directory_fields, group_dns, qualifies

    say = log or (lambda _message: None)
    backend = CampusLDAPBackend()
    report = SyncReport()
    accounts = list(DirectoryAccount.objects.select_related("user").order_by("user__username"))
    found: list[tuple[DirectoryAccount, Any]] = []
    gone: list[DirectoryAccount] = []
    for account in accounts:  # the directory is asked per user; the database is written in bulk below
        report.checked += 1
        ldap_user = backend.lookup(account.user.get_username())
        if ldap_user is None or not qualifies(ldap_user):
            gone.append(account)
        else:
            found.append((account, ldap_user))
    report.suspended = [a.user.get_username() for a in gone if a.user.is_active]
    report.reactivated = [a.user.get_username() for a, _u in found if a.suspended and not a.user.is_active]
    if dry_run:
        for name in report.suspended:
            say(f"would deactivate {name}: not in the directory or not in the allowed groups")
        for name in report.reactivated:
            say(f"would reactivate {name}: back in the directory")
        return report
    now = timezone.now()
    users, fields = [], {"is_active"}
    for account, ldap_user in found:
        user = account.user
        for name, value in directory_fields(ldap_user).items():
            setattr(user, name, value)
            fields.add(name)
        if account.suspended is not None:
            user.is_active = True
        account.dn, account.synced, account.suspended = ldap_user.dn, now, None
        groups = group_dns(ldap_user)
        if groups is not None:
            account.group_dns = sorted({normalise_dn(g) for g in groups})
        users.append(user)
    to_suspend = [a for a in gone if a.user.is_active]
    for account in to_suspend:
        account.suspended = now
        account.user.is_active = False
        users.append(account.user)
    with transaction.atomic():
        get_user_model().objects.bulk_update(users, sorted(fields), batch_size=500)
        DirectoryAccount.objects.bulk_update([a for a, _u in found] + to_suspend,
                                             ["dn", "synced", "group_dns", "suspended"], batch_size=500)
        report.memberships_changed = apply_mappings([a for a, _u in found])
    report.updated = len(found)
    for name in report.suspended:
        logger.warning("LDAP sync: deactivated %s (not in the directory or not in the allowed groups)", name)
        say(f"deactivated {name}: not in the directory or not in the allowed groups")
    for name in report.reactivated:
        logger.warning("LDAP sync: %s is back in the directory and active again", name)
        say(f"reactivated {name}: back in the directory")
    return report


def _accounts_with(dns: set[str]) -> list[DirectoryAccount]:
    """Directory accounts whose stored groups include one of ``dns`` (JSON lists are filtered here, not in SQL,
    so that SQLite and PostgreSQL agree; one query)."""
    return [a for a in DirectoryAccount.objects.only("pk", "user_id", "group_dns") if dns & set(a.group_dns or [])]


def mapping_changed(sender: Any, instance: LDAPGroupMapping, **kwargs: Any) -> None:
    """A mapping was saved or deleted: the accounts in that LDAP group get their groups again, at once."""
    dns = {instance.dn}
    previous = getattr(instance, "_previous_dn", None)
    if previous:
        dns.add(previous)
    apply_mappings(_accounts_with(dns))


def remember_dn(sender: Any, instance: LDAPGroupMapping, **kwargs: Any) -> None:
    """Before a save: the DN the row had, so that re-pointing a mapping also updates the old group's members."""
    if instance.pk:
        instance._previous_dn = LDAPGroupMapping.objects.filter(pk=instance.pk).values_list(  # type: ignore[attr-defined]
            "dn", flat=True).first()


def connect() -> None:
    """Keep mirrored memberships in step with the mappings (called by the app's receivers declaration)."""
    from django.db.models.signals import post_delete, post_save, pre_save

    pre_save.connect(remember_dn, sender=LDAPGroupMapping, dispatch_uid="users.ldap.remember_dn")
    post_save.connect(mapping_changed, sender=LDAPGroupMapping, dispatch_uid="users.ldap.mapping_saved")
    post_delete.connect(mapping_changed, sender=LDAPGroupMapping, dispatch_uid="users.ldap.mapping_deleted")
