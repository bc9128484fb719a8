"""Two reports for the same machine at the same moment must yield one CI."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections

from discovery.models import Host, Identifier
from discovery.services import ingest_report

from .helpers import report


def _run(r: dict[str, Any], barrier: threading.Barrier, errors: list[BaseException]) -> None:
    try:
        barrier.wait()
        ingest_report(r)
    except BaseException as exc:
        errors.append(exc)
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rounds", [5])
def test_concurrent_ingest_of_the_same_machine_yields_one_ci(rounds: int) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrency needs PostgreSQL (SQLite serializes writers); CI runs this on PostgreSQL")
    for n in range(rounds):
        # Each thread reports a different identifier first, so both would miss each other without the lock.
        reports = [
            report(serial=f"RACE-{n}", macs=["00:16:3e:aa:00:01"], hostname=f"race{n}",
                   software=[("nginx", "1.22"), ("curl", "7.88")]),
            report(source="network", name="scanner", macs=["00:16:3e:aa:00:01"], hostname=f"race{n}",
                   fqdn=f"race{n}.example.org"),
        ]
        barrier = threading.Barrier(len(reports))
        errors: list[BaseException] = []
        threads = [threading.Thread(target=_run, args=(r, barrier, errors)) for r in reports]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert Host.objects.filter(name=f"race{n}").count() == 1
        Identifier.objects.filter(value="00:16:3e:aa:00:01").delete()  # next round: a fresh machine
