"""``./scripts/run`` leaves no process behind when it is told to stop.

The script starts ``cmdb setup``, then the job worker and gunicorn (a master and its workers).
A service manager, ``timeout`` or a test signals the script's own pid only; before the script
trapped the signal, bash waited for the foreground server and the server and worker lived on.
The test runs the real script on an SQLite database in a temporary data directory and a free port,
with the repository's existing ``.venv`` (``CMDB_INSTALL=0``: no pip), waits until HTTP answers,
sends SIGTERM to the script and then looks for any process of the script's session that is still
alive.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "run"

pytestmark = pytest.mark.live


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _session(sid: int) -> list[str]:
    """``pid command`` of the live (not zombie) processes of session ``sid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue  # gone meanwhile
        state, _ppid, _pgrp, session = stat.rsplit(")", 1)[1].split()[:4]
        if int(session) == sid and state != "Z":
            found.append(f"{entry.name} {cmdline}")
    return found


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def test_scripts_run_stops_server_and_worker_on_sigterm(tmp_path: Path) -> None:
    assert (REPO / ".venv" / "bin" / "cmdb").exists(), "the test reuses the repository's .venv (./scripts/test)"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CMDB_TASK_BACKEND")}
    env.update(CMDB_DATA_DIR=str(tmp_path / "data"), CMDB_HOST="127.0.0.1", CMDB_PORT=str(port),
               CMDB_WORKERS="2", CMDB_INSTALL="0", CMDB_DEMO="0")
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(SCRIPT)], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 600  # cmdb setup migrates first
        while not _answers(f"http://127.0.0.1:{port}/"):
            assert proc.poll() is None, f"scripts/run ended early ({proc.returncode}):\n{log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"no HTTP answer on port {port}:\n{log.read_text()[-4000:]}"
            time.sleep(0.5)
        running = _session(proc.pid)
        assert any(" worker " in f"{p} " for p in running), running  # the job worker runs beside the server
        assert any(" serve " in f"{p} " for p in running), running

        proc.send_signal(signal.SIGTERM)  # the script only, as a service manager does
        assert proc.wait(60) == 143, log.read_text()[-4000:]  # 128 + SIGTERM, from the script's trap
        deadline = time.monotonic() + 10
        while (left := _session(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left, f"processes of scripts/run outlived it: {left}"
        assert not _answers(f"http://127.0.0.1:{port}/")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
