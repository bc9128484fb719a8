"""Who is changing what, right now.

Every write in the CMDB is attributed: an API request, a management command,
a discovery ingest or a reconciler run.  The attribution lives in a context
variable so that the change-log receivers can read it without every service
passing it along, and so that it works the same inside and outside HTTP
requests (threads and asyncio tasks each get their own value).
"""

from __future__ import annotations

import contextlib
import copy
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

_current: ContextVar[ChangeContext | None] = ContextVar("cmdb_change_context", default=None)


@dataclass
class ChangeContext:
    """Attribution plus the changes buffered until the surrounding transaction ends.

    Buffering lets one request that saves an object, then sets its tags, log a
    single change with the final state, and lets bulk writes append all their
    change records with one INSERT.
    """

    user: Any = None
    source: str = "api"
    request_id: uuid.UUID = field(default_factory=uuid.uuid4)
    pending: dict[tuple[str, int], Any] = field(default_factory=dict)
    #: Change records a service built itself (e.g. one summary for many rows), appended with the pending ones.
    records: list[Any] = field(default_factory=list)

    @property
    def user_name(self) -> str:
        if self.user is not None and getattr(self.user, "is_authenticated", False):
            return self.user.get_username()
        return self.source


def current() -> ChangeContext | None:
    return _current.get()


@contextlib.contextmanager
def change_logging(
    user: Any = None, source: str = "api", request_id: uuid.UUID | None = None
) -> Iterator[ChangeContext]:
    """Attribute every write inside the block and log it atomically with the writes.

    The block runs in a transaction; the buffered changes are appended to the
    hash-chained log just before it commits, so either both the data and its
    history land or neither does.
    """
    from .changelog import flush_pending

    outer = _current.get()
    if outer is not None:
        # Nested use (a service called from a view) joins the outer context.
        yield outer
        return
    ctx = ChangeContext(user=user, source=source, request_id=request_id or uuid.uuid4())
    token = _current.set(ctx)
    try:
        with transaction.atomic():
            yield ctx
            flush_pending(ctx)
    finally:
        _current.reset(token)


class _RolledBack(Exception):
    """Leaves a :func:`rolled_back` block's savepoint."""


def _saved(ctx: ChangeContext | None) -> tuple[dict[tuple[str, int], Any], list[Any]]:
    if ctx is None or not (ctx.pending or ctx.records):
        return {}, []
    return {key: copy.copy(p) for key, p in ctx.pending.items()}, list(ctx.records)


def _restore(ctx: ChangeContext | None, saved: tuple[dict[tuple[str, int], Any], list[Any]]) -> None:
    if ctx is not None:
        ctx.pending.clear()
        ctx.pending.update(saved[0])
        ctx.records[:] = saved[1]


@contextlib.contextmanager
def atomic() -> Iterator[None]:
    """``transaction.atomic()`` for writes inside a change-logging context: a block that fails
    rolls back its rows *and* forgets the changes it noted.

    The context buffers changes until its own transaction commits.  A caller that catches the
    failure and carries on (the web import shows the refusal as a page) would otherwise commit
    change records of rows that were rolled back, naming rows that never existed.
    """
    ctx = _current.get()
    saved = _saved(ctx)
    try:
        with transaction.atomic():
            yield
    except BaseException:
        _restore(ctx, saved)
        raise


@contextlib.contextmanager
def rolled_back() -> Iterator[None]:
    """Run the block's writes, then roll them back with the changes they noted (see :func:`atomic`).

    For previews that must make the real write to judge it (a scope check after the write).
    """
    ctx = _current.get()
    saved = _saved(ctx)
    try:
        with transaction.atomic():
            yield
            raise _RolledBack
    except _RolledBack:
        pass
    finally:
        _restore(ctx, saved)
