"""The ``cmdb impact`` and ``cmdb software`` commands, and the license metrics."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from prometheus_client import CollectorRegistry, generate_latest

from cmdb.software import metrics
from cmdb.software.models import License, SoftwareInstallation, SoftwareProduct, SoftwareVersion

from .graphs import G, portal_behind_core_pair

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_impact_command_text_and_json() -> None:
    portal_behind_core_pair()
    text = run("impact", "core1")
    assert "3 CIs affected (0 down, 3 degraded), 1 services" in text and "core1 > core-pair > web > portal" in text
    data = json.loads(run("impact", "core1", "core2", "--json"))
    assert data["summary"]["down"] == 3 and data["services"][0]["name"] == "portal"
    with pytest.raises(CommandError, match="No CI named"):
        run("impact", "nope")


def test_software_commands() -> None:
    g = G()
    g.ci("web1")
    g.ci("web2")
    p = SoftwareProduct.objects.create(vendor="Debian", name="openssl", slug="openssl", version_scheme="debian")
    old = SoftwareVersion.objects.create(product=p, version="3.0.11-1~deb12u2",
                                         end_of_support=dt.date.today() - dt.timedelta(days=1))
    new = SoftwareVersion.objects.create(product=p, version="3.0.15-1~deb12u1")
    SoftwareInstallation.objects.create(ci_id=g["web1"], version=old)
    SoftwareInstallation.objects.create(ci_id=g["web2"], version=new)
    below = run("software", "which", "openssl", "--below", "3.0.13")
    assert "web1" in below and "web2" not in below and "1 installations" in below
    assert "3.0.15-1~deb12u1" in run("software", "on", "web2")
    eos = run("software", "eos")
    assert "web1" in eos and "web2" not in eos


def test_license_metrics() -> None:
    g = G()
    for i in range(3):
        g.ci(f"pc{i}")
    p = SoftwareProduct.objects.create(vendor="Av", name="av", slug="av")
    v = SoftwareVersion.objects.create(product=p, version="1")
    for i in range(3):
        SoftwareInstallation.objects.create(ci_id=g[f"pc{i}"], version=v)
    License.objects.create(name="AV", product=p, metric="device", quantity=2, end_date=dt.date(2030, 1, 1))

    class Collector:
        def collect(self):
            return metrics.collect()

    registry = CollectorRegistry()
    registry.register(Collector())
    text = generate_latest(registry).decode()
    assert 'cmdb_license_seats{license="AV",metric="device",product="Av av",state="owned",tenant=""} 2.0' in text
    assert 'state="used",tenant=""} 3.0' in text
    assert 'cmdb_license_overuse_seats{license="AV",metric="device",product="Av av",tenant=""} 1.0' in text
    assert "cmdb_license_expiry_timestamp_seconds" in text and "} 1.893456e+09" in text
