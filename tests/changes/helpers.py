"""Shared helpers of the change-management tests (real models, real services, no mocks)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from cmdb.changes.models import Change, ChangeType
from cmdb.core.context import change_logging
from cmdb.users.models import ObjectPermission


def window(start_in: float = -0.5, hours: float = 2.0) -> tuple[dt.datetime, dt.datetime]:
    """A window starting ``start_in`` hours from now (negative: already started) lasting ``hours``."""
    start = timezone.now() + dt.timedelta(hours=start_in)
    return start, start + dt.timedelta(hours=hours)


def make_change(*cis: Any, requester: Any = None, type: str = ChangeType.NORMAL, start_in: float = -0.5,
                hours: float = 2.0, **extra: Any) -> Change:
    """A draft change over the CIs (typed objects or registry ids) with a window around now by default."""
    start, end = window(start_in, hours)
    with change_logging(user=requester, source="test"):
        change = Change.objects.create(title=extra.pop("title", "Patch the web servers"), type=type,
                                       requester=requester, window_start=extra.pop("window_start", start),
                                       window_end=extra.pop("window_end", end), **extra)
        change.cis.set([getattr(c, "ci_id", c) for c in cis])
    return change


def grant(*, name: str, types: list[str], actions: list[str], users: list[Any], tenants: list[Any] = ()) -> Any:
    perm = ObjectPermission(name=name, object_types=types, actions=actions)
    perm.full_clean()
    perm.save()
    perm.users.set(users)
    perm.tenants.set(tenants)
    return perm
