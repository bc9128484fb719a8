import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from discovery.software import clear_cache


@pytest.fixture(autouse=True)
def _fresh_version_cache() -> Iterator[None]:
    """The per-process version cache must not carry ids from an earlier test's (flushed) database."""
    clear_cache()
    yield
    clear_cache()


SNMPD = shutil.which("snmpd") or ("/usr/sbin/snmpd" if os.path.exists("/usr/sbin/snmpd") else None)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: Any) -> Iterator[dict[str, Any]]:
    if SNMPD is None:
        pytest.skip("snmpd is not installed (Debian package snmpd); .ci/run installs it")
    tmp = tmp_path_factory.mktemp("snmpd")
    port = _free_udp_port()
    conf = tmp / "snmpd.conf"
    conf.write_text(
        f"agentAddress udp:127.0.0.1:{port}\n"
        "rocommunity cmdbtest 127.0.0.1\n"
        'createUser cmdbv3 SHA "authpass123" AES "privpass123"\n'
        "rouser cmdbv3 priv\n"
        "sysName switch1.example.org\n"
    )
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(tmp / "persist")}
    proc = subprocess.Popen([SNMPD, "-f", "-Lo", "-C", "-c", str(conf), "-p", str(tmp / "pid")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from discovery.agents import network

    opts = network.SnmpOptions(port=port, community="cmdbtest", timeout=1.0)
    for _ in range(50):
        if network.snmp_query("127.0.0.1", opts):
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("snmpd did not answer")
    yield {"port": port}
    proc.terminate()
    proc.wait(timeout=10)
