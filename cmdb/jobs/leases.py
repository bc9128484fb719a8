"""Expiring leases in the database.

A lease is acquired by inserting its row, or by taking over a row whose
``expires`` lies in the past (or that the same holder already owns, which
renews it).  The take-over is a single conditional ``UPDATE``, so two
contenders cannot both win: PostgreSQL re-checks the condition on the row
version the first one wrote, SQLite serializes writers.  A worker that dies
simply stops renewing and its lease runs out; nobody has to clean up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from .models import Lease


def lease_acquire(name: str, holder: str, *, ttl: float, now: dt.datetime | None = None) -> bool:
    """Take or renew ``name`` for ``ttl`` seconds; False if another live holder has it."""
    now = now or timezone.now()
    expires = now + dt.timedelta(seconds=ttl)
    taken = (
        Lease.objects.filter(name=name)
        .filter(Q(expires__lte=now) | Q(holder=holder))
        .update(holder=holder, acquired=now, expires=expires)
    )
    if taken:
        return True
    try:
        with transaction.atomic():
            Lease.objects.create(name=name, holder=holder, acquired=now, expires=expires)
    except IntegrityError:
        return False
    return True


def lease_release(name: str, holder: str) -> None:
    Lease.objects.filter(name=name, holder=holder).delete()


def lease_holder(name: str, now: dt.datetime | None = None) -> str | None:
    """Who holds a live lease on ``name`` (None if free or expired)."""
    return (
        Lease.objects.filter(name=name, expires__gt=now or timezone.now()).values_list("holder", flat=True).first()
    )


@contextlib.contextmanager
def leased(name: str, holder: str, *, ttl: float) -> Iterator[bool]:
    """Hold ``name`` for the block, renewed every ``ttl/3`` seconds from a background thread.

    Yields False (and holds nothing) when another live holder has it, so the caller decides
    what "taken" means (a reconcile run is then skipped).  A process that dies stops renewing,
    so its lease runs out after at most ``ttl`` seconds; nobody has to clean up.
    """
    if not lease_acquire(name, holder, ttl=ttl):
        yield False
        return
    stop = threading.Event()

    def renew() -> None:
        try:
            while not stop.wait(ttl / 3):
                lease_acquire(name, holder, ttl=ttl)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=renew, daemon=True, name=f"lease {name}")
    thread.start()
    try:
        yield True
    finally:
        stop.set()
        thread.join()
        lease_release(name, holder)
