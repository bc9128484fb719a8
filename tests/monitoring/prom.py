"""A real Prometheus server (Debian's ``prometheus`` package) started by a test, on a free local port.

Each server gets its own configuration file and TSDB folder, so it never meets
the distribution's own service (port 9090, /var/lib/prometheus).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "monitoring" / "rules"
DASHBOARDS = ROOT / "monitoring" / "dashboards"


def binary(name: str) -> str:
    """The path of ``prometheus``/``promtool``; skip (a failure under CI=true) when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (Debian package 'prometheus'; .ci/run installs it)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    def __init__(self, config: dict[str, Any]) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="cmdb-prometheus-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (self.folder / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = open(self.folder / "prometheus.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [binary("prometheus"), f"--config.file={self.folder / 'prometheus.yml'}",
             f"--storage.tsdb.path={self.folder / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, "HOME": str(self.folder)},
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.logs()}")
            try:
                if requests.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"prometheus not ready after {timeout}s: {self.logs()}")

    def logs(self) -> str:
        self.log.flush()
        return (self.folder / "prometheus.log").read_text(errors="replace")[-3000:]

    def api(self, path: str, **params: Any) -> Any:
        response = requests.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        return response.json()

    def query(self, expr: str) -> Any:
        return self.api("query", query=expr)

    def wait_for(self, predicate: Any, what: str, timeout: float = 60) -> Any:
        """Poll ``predicate()`` until it returns something truthy (Prometheus works asynchronously)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}; prometheus log:\n{self.logs()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)
