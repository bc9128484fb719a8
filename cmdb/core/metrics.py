"""The metrics registry: domain apps contribute families through ``<app>/metrics.py``.

Contract (docs/monitoring.md, INTERFACES item 3): a module ``metrics`` in any
installed app with ``def collect() -> Iterable[prometheus_client.core.Metric]``
(e.g. ``GaugeMetricFamily``), using a constant number of SQL queries whatever
the row count.  If ``collect`` takes a ``user`` keyword it receives the caller
(``None`` for an allow-listed network) and must scope its rows with
:func:`cmdb.users.permissions.restrict`; a ``collect()`` without it cannot
scope by tenant, so it is only called for callers who may see every CI
(superusers, unconstrained view of ``core.configurationitem``, allow-listed
networks).  Besides autodiscovery, :func:`register` adds a collector by hand.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.apps import apps

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
    """``collect`` of every installed app's ``metrics`` module, in INSTALLED_APPS order."""
    found: list[Collector] = []
    for config in apps.get_app_configs():
        name = f"{config.name}.metrics"
        if importlib.util.find_spec(name) is None:
            continue
        collect = getattr(importlib.import_module(name), "collect", None)
        if callable(collect):
            found.append(collect)
    return tuple(found)


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
