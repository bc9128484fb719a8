"""The web process' own request metrics, correct under gunicorn with several workers.

Each gunicorn worker counts its own requests; a scrape reaches one worker.
prometheus_client's multiprocess mode makes every worker write its samples to
memory-mapped files in one folder and sums them at scrape time.
``cmdb serve`` calls :func:`enable_multiprocess` before the workers fork
(folder ``$CMDB_DATA_DIR/prometheus``, emptied at each start, or
``PROMETHEUS_MULTIPROC_DIR`` if set).  Without it (tests, ``runserver``)
the process counts in memory, which is right for a single process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, values
from prometheus_client.core import Metric

_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: Private registry: the default one would also export this process' GC and platform collectors twice.
REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "cmdb_http_requests", "HTTP requests served, by method, route and status code.",
    ["method", "view", "status"], registry=REGISTRY,
)
DURATION = Histogram(
    "cmdb_http_request_duration_seconds", "Time to answer an HTTP request, by method and route.",
    ["method", "view"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def enable_multiprocess(data_dir: Path | None = None) -> Path:
    """Switch prometheus_client to multiprocess mode; call once in the master before forking."""
    if data_dir is None:
        from django.conf import settings

        data_dir = Path(settings.DATA_DIR)
    folder = Path(os.environ.get(_ENV) or data_dir / "prometheus")
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()  # counts of an earlier server run are not this run's
    os.environ[_ENV] = str(folder)
    # Metric children are created lazily (labelled metrics), so switching the value class now
    # is enough even though prometheus_client was imported before.
    values.ValueClass = values.get_value_class()
    return folder


def multiprocess_dir() -> str | None:
    return os.environ.get(_ENV) or None


def observe(method: str, view: str, status: int, started: float) -> None:
    REQUESTS.labels(method, view, str(status)).inc()
    DURATION.labels(method, view).observe(time.perf_counter() - started)


def collect() -> Iterable[Metric]:
    """The request metric families, summed over all workers in multiprocess mode."""
    folder = multiprocess_dir()
    if folder:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=folder)
        yield from registry.collect()
    else:
        yield from REGISTRY.collect()
