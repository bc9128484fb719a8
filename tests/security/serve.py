"""A real ``cmdb serve`` (gunicorn, several workers) on a free loopback port, against the test database.

Only PostgreSQL lets a second process see the test database (SQLite tests run in memory), so
:func:`postgres_url` skips otherwise; data the server should see must be committed, i.e. the
test uses ``transactional_db``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def postgres_url() -> str:
    """The test database as a DATABASE_URL for another process; skips unless the tests run on PostgreSQL."""
    if connection.vendor != "postgresql":
        pytest.skip("a server process can share the test database only on PostgreSQL (set DATABASE_URL)")
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_pids(master: int) -> list[int]:
    path = Path(f"/proc/{master}/task/{master}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@contextlib.contextmanager
def cmdb_serve(env: dict[str, str], workers: int = 4, timeout: float = 180) -> Iterator[tuple[str, int]]:
    """Start the server, wait until it answers and all workers are up; yields (base URL, master pid)."""
    port = free_port()
    cmdb = Path(sys.executable).parent / "cmdb"
    cmd = [str(cmdb) if cmdb.exists() else sys.executable, *([] if cmdb.exists() else ["-m", "cmdb.cli"]),
           "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

        def output() -> str:
            log.seek(0)
            return log.read().decode(errors="replace")[-4000:]

        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"cmdb serve exited with {proc.returncode}:\n{output()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cmdb serve did not answer within {timeout} s:\n{output()}")
                with contextlib.suppress(requests.RequestException):
                    if requests.get(f"{base}/login/", timeout=5).status_code == 200 \
                            and len(worker_pids(proc.pid)) == workers:
                        break
                time.sleep(0.25)
            try:
                yield base, proc.pid
            except AssertionError as exc:  # the server's side of a failed assertion: its log
                raise AssertionError(f"{exc}\nserver log (end):\n{output()}") from None
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # gunicorn's master stops its workers
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)


def server_env(**overrides: str | None) -> dict[str, str]:
    """This process's environment for the server, with overrides (None removes a variable)."""
    env = dict(os.environ)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env
