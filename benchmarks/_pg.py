"""Shared plumbing of the in-process PostgreSQL benchmarks (impact, licenses).

Each benchmark owns a database (dropped at the end unless ``--keep``), migrates
it in this process with Django pointed at it, fills it with bulk SQL (COPY),
measures with the project's own code, and writes its table to
``benchmarks/results/<name>.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import statistics
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def add_pg_arguments(parser: argparse.ArgumentParser, db_name: str) -> None:
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", default="5432")
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--db-name", default=db_name)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")


def _admin(args: argparse.Namespace) -> Any:
    from benchmarks.api import pg_admin

    return pg_admin(args)


def recreate(args: argparse.Namespace) -> None:
    from benchmarks.api import recreate_database

    recreate_database(args)


def drop(args: argparse.Namespace) -> None:
    from django.db import connections
    from psycopg import sql

    connections.close_all()
    with _admin(args) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(args.db_name)))


def setup_django(args: argparse.Namespace) -> None:
    """Point Django at the benchmark database and migrate it."""
    os.environ["DATABASE_URL"] = f"postgres://{args.pg_user}@{args.pg_host}:{args.pg_port}/{args.db_name}"
    os.environ.setdefault("CMDB_DATA_DIR", tempfile.mkdtemp(prefix="cmdb-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cmdb.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rss_mb() -> float:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        pg = cur.fetchone()[0]
    return (f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, PostgreSQL {pg}, "
            f"load average {load:.2f}")


def render(rows: list[list[str]]) -> tuple[str, str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    text = []
    for k, row in enumerate(rows):
        text.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)))
        if k == 0:
            text.append("  ".join("-" * w for w in widths))
    md = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(rows[0])))
          + "|"]
    md += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(text), "\n".join(md)


def write_result(name: str, title: str, header: list[str], table_md: str, notes: list[str]) -> Path:
    path = ROOT / "benchmarks" / "results" / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    when = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    path.write_text("\n".join([f"# {title}", "", f"Date: {when}  ", *header, "", table_md, "", *notes, ""]))
    return path
