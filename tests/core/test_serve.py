"""``cmdb serve``: where it listens (CMDB_HOST/CMDB_PORT) and what a busy port says.

Real processes and real sockets: the port is taken by a listening socket of this test, then
``cmdb serve`` is started on it.  It must answer with one clear line and exit status 1, not a
traceback and not gunicorn's five seconds of retries.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CMDB = str(Path(sys.executable).parent / "cmdb")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CMDB_HOST", "CMDB_PORT")}
    return {**env, "CMDB_DATA_DIR": str(tmp_path / "data"), **extra}


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that another server is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _serve(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run([CMDB, "serve", *args], env=env, capture_output=True, text=True, timeout=120)
    return done, time.monotonic() - started


def test_a_busy_port_from_cmdb_port_is_named_and_exits_1(busy_port: int, tmp_path: Path) -> None:
    done, took = _serve([], _env(tmp_path, CMDB_PORT=str(busy_port)))
    assert done.returncode == 1, done
    assert f"port {busy_port} on 127.0.0.1 is in use; set CMDB_PORT" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "Serving" not in done.stdout  # refused before gunicorn starts (it would retry for 5 s)
    assert took < 30


def test_a_busy_port_from_the_command_line_is_named_too(busy_port: int, tmp_path: Path) -> None:
    done, _took = _serve(["--host", "127.0.0.1", "--port", str(busy_port)], _env(tmp_path, CMDB_PORT="1"))
    assert done.returncode == 1
    assert f"port {busy_port} on 127.0.0.1 is in use" in done.stderr and "Traceback" not in done.stderr


def test_a_port_that_is_not_a_number_is_a_usage_error(tmp_path: Path) -> None:
    done, _took = _serve([], _env(tmp_path, CMDB_PORT="eighty"))
    assert done.returncode == 2
    assert "'eighty' is not a TCP port (1-65535); check --port or CMDB_PORT" in done.stderr
    assert "Traceback" not in done.stderr


def test_help_documents_cmdb_host_and_cmdb_port(tmp_path: Path) -> None:
    done = subprocess.run([CMDB, "serve", "--help"], env=_env(tmp_path), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())  # argparse wraps lines
    assert "default: CMDB_HOST, else 127.0.0.1" in text
    assert "default: CMDB_PORT, else 8000" in text


def test_readme_documents_cmdb_host_and_cmdb_port() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "| `CMDB_HOST` | `127.0.0.1` |" in readme
    assert "| `CMDB_PORT` | `8000` |" in readme
