"""The keyed change log's cost: hashing per record, append, verify and a checkpoint.

Runs on PostgreSQL (database ``cmdb_bench_audit``, dropped at the end unless ``--keep``).
It measures:

* the chain's hashing per record, the legacy unkeyed scheme (plain SHA-256) against the
  keyed one (HMAC-SHA256), on realistic records (a device snapshot as before/after);
* :func:`cmdb.core.changelog.append` for one record (a single API write) and for batches of
  500 (a bulk create or a discovery ingest), per record, with the queries it sends;
* :func:`cmdb.core.changelog.verify` over every record written, in records per second;
* :func:`cmdb.core.checkpoints.checkpoint_write` to the file sink.

Usage: ``.venv/bin/python -m benchmarks.audit [--records 50000 --runs 5]``
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

from . import _pg


def _records(n: int, ct_id: int) -> list[Any]:
    from cmdb.core.models import ObjectChange

    snapshot = {"name": "srv-0042", "status": "active", "site": 3, "rack": 17, "position": 21, "serial": "CZ12345678",
                "asset_tag": "TU-004711", "tenant": 4, "role": 2, "platform": 1, "description": "compute node",
                "tags": ["hpc", "slurm"], "custom_fields": {"owner_group": "hpc", "warranty_end": "2028-03-31"}}
    return [ObjectChange(user_id=1, user_name="bench", request_id=uuid.uuid4(), source="benchmark", action="update",
                         changed_object_type_id=ct_id, changed_object_id=i + 1, tenant_id=4,
                         object_repr=f"srv-{i:05d}", prechange_data=snapshot,
                         postchange_data={**snapshot, "description": f"compute node {i}"}) for i in range(n)]


def _hash_cost(n: int, ct_id: int) -> tuple[float, float]:
    """µs per record for digest + link: (legacy SHA-256, HMAC-SHA256)."""
    import secrets

    from django.utils import timezone

    from cmdb.core import changelog

    version, key = changelog.current_key()
    results = []
    for k in (None, key):
        rows = _records(n, ct_id)
        now, prev = timezone.now(), changelog.GENESIS
        t = time.perf_counter()
        for row in rows:
            row.time, row.salt, row.key_version = now, secrets.token_hex(16), version if k else 0
            row.data_digest = changelog.data_digest(row.salt, row, k)
            row.chain_hash = prev = changelog.link_hash(prev, row, k)
        results.append((time.perf_counter() - t) / n * 1e6)
    return results[0], results[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _pg.add_pg_arguments(parser, "cmdb_bench_audit")
    parser.add_argument("--records", type=int, default=50_000, help="records written in batches of 500")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    _pg.recreate(args)
    try:
        _pg.setup_django(args)
        from django.conf import settings
        from django.contrib.contenttypes.models import ContentType
        from django.db import connection, transaction

        from cmdb.core import changelog, checkpoints
        from cmdb.dcim.models import Device

        ct_id = ContentType.objects.get_for_model(Device).pk
        costs = [_hash_cost(5000, ct_id) for _ in range(args.runs)]
        legacy_us, keyed_us = min(c[0] for c in costs), min(c[1] for c in costs)

        def timed_append(batch: int, count: int) -> tuple[float, int]:
            """Median µs per record of appending ``count`` batches of ``batch`` records; queries per append."""
            per_record, queries = [], 0
            for _ in range(count):
                rows = _records(batch, ct_id)
                connection.force_debug_cursor = True
                before = len(connection.queries_log)
                t = time.perf_counter()
                with transaction.atomic():
                    changelog.append(rows)
                per_record.append((time.perf_counter() - t) / batch * 1e6)
                queries = len(connection.queries_log) - before
                connection.force_debug_cursor = False
            return _pg.median(per_record), queries

        single_us, single_q = timed_append(1, 200)
        bulk_us, bulk_q = timed_append(500, max(1, args.records // 500))
        total = changelog.ObjectChange.objects.count()
        verify_s = []
        for _ in range(max(1, args.runs // 2)):
            t = time.perf_counter()
            result = changelog.verify(checkpoints=checkpoints.CheckpointLog())
            verify_s.append(time.perf_counter() - t)
            assert result.ok, result.reason
        settings.AUDIT_CHECKPOINT_FILE = f"{settings.DATA_DIR}/bench-checkpoints.log"
        cp_ms = []
        for _ in range(args.runs):
            t = time.perf_counter()
            checkpoints.checkpoint_write(reason="benchmark")
            cp_ms.append((time.perf_counter() - t) * 1000)

        rows = [["scenario", "result", "note"],
                ["hashing per record, legacy SHA-256", f"{legacy_us:.1f} µs", "digest + link, best of runs"],
                ["hashing per record, HMAC-SHA256 (keyed)", f"{keyed_us:.1f} µs",
                 f"{(keyed_us - legacy_us):+.1f} µs per record"],
                ["append, 1 record (one API write)", f"{single_us:.0f} µs/record", f"{single_q} queries per append"],
                ["append, batches of 500 (bulk, ingest)", f"{bulk_us:.0f} µs/record", f"{bulk_q} queries per append"],
                [f"verify, {total:,} records", f"{total / _pg.median(verify_s):,.0f} records/s",
                 f"{_pg.median(verify_s):.1f} s"],
                ["checkpoint to the file sink", f"{_pg.median(cp_ms):.1f} ms", "two indexed reads, fsync"]]
        text, md = _pg.render(rows)
        print(text)
        path = _pg.write_result("audit", "Change-log chain benchmark", [f"Machine: {_pg.machine()}  "], md, [
            "The keyed chain adds the HMAC's extra compression rounds to each record's two hashes; the append "
            "sends the same statements as before (the key version is one more column in the same INSERT or COPY)."])
        print(f"written to {path}")
    finally:
        if not args.keep:
            _pg.drop(args)


if __name__ == "__main__":
    main()
