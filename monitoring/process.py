"""The web process' own request metrics, correct under gunicorn with several workers.

Each gunicorn worker counts its own requests; a scrape reaches one worker.
prometheus_client's multiprocess mode makes every worker write its samples to
memory-mapped files in one folder and sums them at scrape time.
``cmdb serve`` switches it on before the workers fork
(:func:`cmdb.core.metrics.enable_multiprocess`: folder ``$CMDB_DATA_DIR/prometheus``,
emptied at each start, or ``PROMETHEUS_MULTIPROC_DIR`` if set).  Without it (tests,
``runserver``) the process counts in memory, which is right for a single process.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import Metric

from cmdb.core.metrics import multiprocess_dir

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
