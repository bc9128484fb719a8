"""Erasing personal data from the change log, and recording that it was done.

Why recorded: data-protection law may require blanking a person's data in the
change log, but an erasure that leaves no trace is indistinguishable from an
attacker hiding what a record said.  So an erasure is itself a change record
(action ``erase``) in the chain, signed like every other: who erased, when,
which records, the legal reason, and what was targeted.  The erased records
keep their digests and hashes, so the chain still verifies; verification
insists that every erased record is named by an erasure record.

On PostgreSQL the change log's trigger (migration ``core/0004``) lets
``erased`` be set only while this service's transaction-local setting
``cmdb.audit_erasure`` names an erasure record that lists the row, and only
with the whole payload blanked; an erased row can never change again.

The whole payload of a record is blanked (user name, object representation,
before and after): one digest covers all of it, and a part of it cannot be
left behind verifiably.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Q, QuerySet

from cmdb.core import changelog
from cmdb.core.choices import ChangeAction
from cmdb.core.models.changelog import ObjectChange

PERMISSION = "core.erase_objectchange"
MAX_REASON = 500
_SETTING = "cmdb.audit_erasure"
#: Rows per UPDATE (SQLite's limit on query parameters).
_BATCH = 900


class ErasureError(ValueError):
    """Bad erasure input; ``field`` names the argument."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass
class Target:
    """What to erase, resolved: the records' filter, a description for the erasure record, the object."""

    query: Q
    text: str
    object_type_id: int | None = None
    object_id: int | None = None


@dataclass
class ErasureResult:
    #: The erasure record written (None for a dry run or when nothing was left to erase).
    record: ObjectChange | None
    erased: list[int] = field(default_factory=list)
    dry_run: bool = False


def _object_target(text: str) -> Target:
    label, sep, pk = text.strip().rpartition(":")
    if not sep or not label or not pk.isdigit():
        raise ErasureError("object", "Give the object as app_label.model:id, e.g. dcim.device:42.")
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError) as exc:
        raise ErasureError("object", f"Unknown object type {label!r}; use app_label.model, e.g. dcim.device.") from exc
    ct = ContentType.objects.get_for_model(model)
    return Target(Q(changed_object_type=ct, changed_object_id=int(pk)), f"{ct.app_label}.{ct.model}:{pk}",
                  ct.pk, int(pk))


def _user_target(name: str) -> Target:
    """Records the person made and records of their account (by id); by name once the account is gone."""
    name = name.strip()
    if not name:
        raise ErasureError("user", "Give a user name.")
    User = get_user_model()
    account = User.objects.filter(**{User.USERNAME_FIELD: name}).first()
    if account is None:
        # The account was deleted; its records still carry the name (only those made by an account,
        # not the source names such as "cli" that stand in for a user).
        return Target(Q(user_name=name, user_id__isnull=False), "user (deleted account)")
    ct = ContentType.objects.get_for_model(User)
    query = Q(user_id=account.pk) | Q(changed_object_type=ct, changed_object_id=account.pk)
    return Target(query, f"user #{account.pk}", ct.pk, account.pk)


def _records_target(ids: list[int]) -> Target:
    if not ids or not all(type(i) is int and i > 0 for i in ids):
        raise ErasureError("records", "Give change record ids (positive whole numbers).")
    found = set(ObjectChange.objects.filter(id__in=ids).values_list("id", flat=True))
    missing = sorted(set(ids) - found)
    if missing:
        raise ErasureError("records", f"No change record with id {', '.join(map(str, missing[:10]))}.")
    if ObjectChange.objects.filter(id__in=ids, action=ChangeAction.ERASE).exists():
        raise ErasureError("records", "Erasure records cannot be erased.")
    return Target(Q(id__in=ids), f"records {min(ids)}..{max(ids)}")


def resolve_target(*, obj: str | None = None, user: str | None = None,
                   records: list[int] | None = None) -> Target:
    given = [name for name, value in (("object", obj), ("user", user), ("records", records)) if value]
    if len(given) != 1:
        raise ErasureError("object", "Give exactly one of object, user or records.")
    if obj:
        return _object_target(obj)
    if user:
        return _user_target(user)
    return _records_target(list(records or []))


def erasure_candidates(target: Target) -> QuerySet[ObjectChange]:
    """The records ``target`` selects that still carry data (erasure records are never erased)."""
    return ObjectChange.objects.filter(target.query, erased=False).exclude(action=ChangeAction.ERASE)


def changes_erase(*, target: Target, reason: str, actor: Any = None, actor_name: str = "", source: str = "cli",
                  dry_run: bool = False) -> ErasureResult:
    """Blank the payload of the records ``target`` selects and append the erasure record, atomically.

    ``actor`` is the user erasing (None from the command line, then ``actor_name`` says who).
    """
    reason = (reason or "").strip()
    if not reason:
        raise ErasureError("reason", "Give the legal reason for the erasure.")
    if len(reason) > MAX_REASON:
        raise ErasureError("reason", f"Keep the reason under {MAX_REASON} characters.")
    with transaction.atomic():
        rows = list(erasure_candidates(target).order_by("id").values_list("id", "tenant_id"))
        ids = [pk for pk, _tenant in rows]
        if dry_run or not ids:
            return ErasureResult(None, ids, dry_run)
        tenants = {tenant for _pk, tenant in rows}
        user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
        record = ObjectChange(
            user_id=user.pk if user is not None else None,
            user_name=(user.get_username() if user is not None else actor_name or source)[:150],
            request_id=uuid.uuid4(), source=source, action=ChangeAction.ERASE,
            changed_object_type_id=ContentType.objects.get_for_model(ObjectChange).pk, changed_object_id=ids[0],
            related_object_type_id=target.object_type_id, related_object_id=target.object_id,
            tenant_id=tenants.pop() if len(tenants) == 1 else None,
            object_repr=f"Erasure of {len(ids)} change record(s)",
            prechange_data=None,
            postchange_data={changelog.ERASURE_LIST: ids, "reason": reason, "target": target.text},
        )
        changelog.append([record])
        _set_erasure(record.pk)
        for start in range(0, len(ids), _BATCH):
            ObjectChange.objects.filter(id__in=ids[start:start + _BATCH]).update(
                erased=True, user_name="", object_repr=changelog.ERASED_REPR, prechange_data=None,
                postchange_data=None,
            )
        _set_erasure(None)
    return ErasureResult(record, ids)


def _set_erasure(record_id: int | None) -> None:
    """Tell the trigger which erasure record this transaction's erasing UPDATEs belong to."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, true)", [_SETTING, "" if record_id is None else str(record_id)])


def erasures_list() -> QuerySet[ObjectChange]:
    """Every erasure record, oldest first."""
    return ObjectChange.objects.filter(action=ChangeAction.ERASE).order_by("id")
