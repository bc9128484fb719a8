"""The metrics registry, shared plumbing of every app: who contributes families to ``/metrics``.

Contract (docs/monitoring.md): an app declares a metrics module on its ``AppConfig``
(``metrics_module = ".metrics"``, see :mod:`cmdb.core.domains`) with
``def collect() -> Iterable[prometheus_client.core.Metric]`` (e.g. ``GaugeMetricFamily``),
using a constant number of SQL queries whatever the row count.  If ``collect`` takes a
``user`` keyword it receives the caller (``None`` for an allow-listed network) and must scope
its rows with :func:`cmdb.users.permissions.restrict`; a ``collect()`` without it cannot scope
by tenant, so it is only called for callers who may see every CI (superusers, unconstrained
view of ``core.configurationitem``, allow-listed networks).  Besides the declarations,
:func:`register` adds a collector by hand.  The monitoring app's exposition renders :func:`sources`.

The process side lives here too: :func:`enable_multiprocess` switches prometheus_client to its
multiprocess mode, so counters kept in memory by web workers (request metrics) are summed over all
of gunicorn's workers; ``cmdb serve`` calls it before forking.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Collector = Callable[..., Iterable[Any]]
_manual: list[Collector] = []


def register(collect: Collector) -> Collector:
    """Add a collector that is not an app's ``metrics.collect`` (usable as a decorator)."""
    if collect not in _manual:
        _manual.append(collect)
    return collect


@functools.cache
def discovered() -> tuple[Collector, ...]:
    """``collect`` of every app's declared metrics module, in INSTALLED_APPS order."""
    from .domains import metrics_collectors

    return tuple(metrics_collectors())


def _takes_user(collect: Collector) -> bool:
    try:
        return "user" in inspect.signature(collect).parameters
    except (TypeError, ValueError):
        return False


def collectors() -> list[Collector]:
    return [*discovered(), *_manual]


def sources(user: Any, *, unscoped: bool) -> Iterator[Iterable[Any]]:
    """The family iterables to render for this caller; a failing collector is logged, not fatal."""
    for collect in collectors():
        try:
            if _takes_user(collect):
                yield list(collect(user=user))
            elif unscoped:
                yield list(collect())
        except Exception:
            # One app's broken collector must not take the CMDB's whole /metrics down.
            log.exception("metrics collector %s failed", getattr(collect, "__module__", collect))


# --- the process side: one set of in-memory metrics summed over all web workers -----------------

_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def enable_multiprocess(data_dir: Path | None = None) -> Path:
    """Switch prometheus_client to multiprocess mode; call once in the master before forking.

    Each gunicorn worker counts its own requests and a scrape reaches one worker; in multiprocess
    mode every worker writes its samples to memory-mapped files in one folder
    (``$CMDB_DATA_DIR/prometheus``, emptied here, or ``PROMETHEUS_MULTIPROC_DIR`` if set) and a
    scrape sums them.  Without it (tests, ``runserver``) a process counts in memory, which is right
    for a single process.
    """
    from prometheus_client import values

    if data_dir is None:
        from django.conf import settings

        data_dir = Path(settings.DATA_DIR)
    folder = Path(os.environ.get(_MULTIPROC_ENV) or data_dir / "prometheus")
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()  # counts of an earlier server run are not this run's
    os.environ[_MULTIPROC_ENV] = str(folder)
    # Metric children are created lazily (labelled metrics), so switching the value class now
    # is enough even though prometheus_client was imported before.
    values.ValueClass = values.get_value_class()
    return folder


def multiprocess_dir() -> str | None:
    """The folder of multiprocess mode, or None when this process counts in memory."""
    return os.environ.get(_MULTIPROC_ENV) or None
