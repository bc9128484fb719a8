"""Change history and journal of one object, for its detail page (one query each)."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, Q

from cmdb.core.models import ObjectChange
from cmdb.users.permissions import restrict


def _fmt(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    return str(value)


def diff(pre: dict[str, Any] | None, post: dict[str, Any] | None) -> list[dict[str, str]]:
    """Fields that differ between two snapshots, as (field, before, after) rows."""
    pre, post = pre or {}, post or {}
    rows = []
    for key in sorted(set(pre) | set(post)):
        old, new = pre.get(key), post.get(key)
        if old != new:
            rows.append({"field": key, "old": _fmt(old), "new": _fmt(new)})
    return rows


def changes_for(obj: Model, user: Any, limit: int = 25) -> list[dict[str, Any]]:
    """The object's own changes and those of its children (interfaces of a device, ...)."""
    ct = ContentType.objects.get_for_model(type(obj))
    q = Q(changed_object_type=ct, changed_object_id=obj.pk) | Q(related_object_type=ct, related_object_id=obj.pk)
    qs = restrict(ObjectChange.objects.filter(q), user, "view").select_related("changed_object_type")
    out = []
    for change in qs.order_by("-time", "-id")[:limit]:
        own = change.changed_object_type_id == ct.pk and change.changed_object_id == obj.pk
        out.append({"change": change, "own": own, "diff": diff(change.prechange_data, change.postchange_data)})
    return out


def journal_for(obj: Model, user: Any, limit: int = 50) -> list[Any]:
    from cmdb.extras.models import JournalEntry

    ct = ContentType.objects.get_for_model(type(obj))
    qs = JournalEntry.objects.filter(assigned_object_type=ct, assigned_object_id=obj.pk)
    return list(restrict(qs, user, "view").select_related("created_by").order_by("-created")[:limit])
