"""The demo enables monitoring on servers, VMs and network devices (monitoring/demo.py)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from django.core.management import call_command
from django.db import transaction

from cmdb.dcim.models import Device
from cmdb.demo.generator import CLIENT_ROLES, NETWORK_ROLES, SERVER_ROLES
from monitoring import demo as demo_monitoring
from monitoring.models import Monitor


@pytest.fixture(scope="module")
def demo(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("demo", quiet=True, stdout=io.StringIO())
        yield
        transaction.set_rollback(True)


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
class TestDemoMonitoring:
    def test_servers_and_network_devices_are_monitored(self) -> None:
        by_role = dict(Monitor.objects.filter(ci__kind="dcim.device").values_list("ci__name", "exporter_type__slug"))
        servers = Device.objects.filter(role__slug__in=SERVER_ROLES, status="active")
        network = Device.objects.filter(role__slug__in=NETWORK_ROLES, status="active")
        assert servers.exists() and network.exists()
        assert all(by_role[name] == "node" for name in servers.values_list("name", flat=True))
        assert all(by_role[name] == "snmp" for name in network.values_list("name", flat=True))
        clients = set(Device.objects.filter(role__slug__in=CLIENT_ROLES).values_list("name", flat=True))
        assert not clients & set(by_role)
        assert Monitor.objects.filter(ci__kind="virtualization.virtualmachine").count() > 500

    def test_idempotent(self) -> None:
        before = Monitor.objects.count()
        assert demo_monitoring.enable_monitoring(SERVER_ROLES, NETWORK_ROLES) == 0
        assert Monitor.objects.count() == before

    def test_sd_serves_the_demo(self, api: Any) -> None:
        response = api.get("/api/monitoring/sd/devices/?role=core-switch")
        groups = orjson.loads(b"".join(response.streaming_content))
        assert groups and all(g["labels"]["exporter"] == "snmp" and g["labels"]["role"] == "core-switch"
                              for g in groups)
        assert all(g["targets"][0].endswith(":9116") for g in groups)
