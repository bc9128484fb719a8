"""Discovered hosts point at the machine already recorded in the CMDB (device by serial, VM by name)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from cmdb.core.models import ObjectChange
from cmdb.dcim.models import Device, DeviceRole, DeviceType, Manufacturer, Site
from cmdb.virtualization.models import VirtualMachine
from discovery.models import Host
from discovery.services import ingest_report

from .helpers import report

pytestmark = pytest.mark.django_db


@pytest.fixture
def recorded() -> dict[str, Any]:
    site = Site.objects.create(name="Campus", slug="campus")
    role = DeviceRole.objects.create(name="Server", slug="server")
    dell = Manufacturer.objects.create(name="Dell", slug="dell")
    hpe = Manufacturer.objects.create(name="HPE", slug="hpe")
    r650 = DeviceType.objects.create(manufacturer=dell, model="R650", slug="r650")
    dl380 = DeviceType.objects.create(manufacturer=hpe, model="DL380", slug="dl380")
    return {
        "dev": Device.objects.create(name="srv-db-01", device_type=r650, role=role, site=site, serial="ABC123"),
        # The same serial from another manufacturer: ambiguous without the manufacturer.
        "other": Device.objects.create(name="srv-x", device_type=dl380, role=role, site=site, serial="DUP1"),
        "dup": Device.objects.create(name="srv-y", device_type=r650, role=role, site=site, serial="DUP1"),
        "vm": VirtualMachine.objects.create(name="moodle-app-01"),
    }


def test_new_host_links_to_the_device_with_its_serial(recorded: dict[str, Any]) -> None:
    result = ingest_report(report(serial="abc123", hostname="db01"))
    host = Host.objects.get(ci_id=result.ci_id)
    assert host.device_id == recorded["dev"].pk and host.link_rule == "serial"
    assert host.virtual_machine_id is None
    # The link is part of the host's change record.
    created = ObjectChange.objects.filter(changed_object_id=host.pk, action="create").latest("id")
    assert created.postchange_data["device"] == recorded["dev"].pk


def test_ambiguous_serial_is_settled_by_manufacturer_or_left_unlinked(recorded: dict[str, Any]) -> None:
    dell = Host.objects.get(ci_id=ingest_report(report(serial="DUP1", hostname="h1", manufacturer="Dell Inc.")).ci_id)
    assert dell.device_id == recorded["dup"].pk
    unknown = Host.objects.get(ci_id=ingest_report(report(serial="DUP1", hostname="h2", manufacturer="Lenovo")).ci_id)
    assert unknown.device_id is None and unknown.link_rule == ""


def test_virtual_host_links_to_the_vm_by_name_and_relinks_when_renamed(recorded: dict[str, Any]) -> None:
    macs = ["02:00:00:00:00:99"]
    host = Host.objects.get(ci_id=ingest_report(report(hostname="moodle-app-01", virtual=True, macs=macs)).ci_id)
    assert host.virtual_machine_id == recorded["vm"].pk and host.link_rule == "vm-name"
    # Renamed to a name no VM has: the link no longer holds.
    ingest_report(report(hostname="moodle-app-99", virtual=True, macs=macs))
    host.refresh_from_db()
    assert host.virtual_machine_id is None


def test_manual_link_is_kept(recorded: dict[str, Any]) -> None:
    host = Host.objects.get(ci_id=ingest_report(report(serial="ZZZ", hostname="h9")).ci_id)
    host.device, host.link_rule = recorded["other"], "manual"
    host.save()
    ingest_report(report(serial="ZZZ", hostname="h9-renamed"))  # a name change re-runs linking
    host.refresh_from_db()
    assert host.name == "h9-renamed"
    assert host.device_id == recorded["other"].pk and host.link_rule == "manual"


def test_link_command_links_hosts_recorded_after_discovery(recorded: dict[str, Any], capsys: Any) -> None:
    early = Host.objects.get(ci_id=ingest_report(report(serial="NEW-9", hostname="late")).ci_id)
    assert early.device_id is None
    dev = recorded["dev"]
    late = Device.objects.create(name="late", device_type=dev.device_type, role=dev.role, site=dev.site,
                                 serial="NEW-9")
    call_command("discover", "link")
    early.refresh_from_db()
    assert early.device_id == late.pk and early.link_rule == "serial"
    assert "1 host(s) linked" in capsys.readouterr().out
    assert ObjectChange.objects.filter(changed_object_id=early.pk, source="discovery:linking").exists()


def test_a_person_setting_the_device_pins_the_link(recorded: dict[str, Any], client: Any) -> None:
    """An edit through the API (not discovery) marks the link manual, so the next report keeps it."""
    from cmdb.users.services import admin_ensure, token_create

    host = Host.objects.get(ci_id=ingest_report(report(serial="ABC123", hostname="db01")).ci_id)
    assert host.device_id == recorded["dev"].pk
    user, _ = admin_ensure("admin", "a@example.org", "pw-" + "x" * 20)
    token = token_create(user=user, write_enabled=True)[1]
    r = client.patch(f"/api/discovery/hosts/{host.pk}/", {"device": recorded["other"].pk},
                     content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}")
    assert r.status_code == 200, r.content
    host.refresh_from_db()
    assert host.device_id == recorded["other"].pk and host.link_rule == "manual"
    ingest_report(report(serial="ABC123", hostname="db01-new"))
    host.refresh_from_db()
    assert host.device_id == recorded["other"].pk


def test_hosts_filter_by_their_linked_record(recorded: dict[str, Any], client: Any) -> None:
    from cmdb.users.services import admin_ensure, token_create

    ingest_report(report(serial="ABC123", hostname="db01"))
    ingest_report(report(serial="NOPE", hostname="other"))
    user, _ = admin_ensure("admin", "a@example.org", "pw-" + "x" * 20)
    auth = {"HTTP_AUTHORIZATION": f"Token {token_create(user=user, write_enabled=False)[1]}"}
    by_device = client.get(f"/api/discovery/hosts/?device_id={recorded['dev'].pk}", **auth).json()
    assert [h["name"] for h in by_device["results"]] == ["db01"]
    by_rule = client.get("/api/discovery/hosts/?link_rule=serial", **auth).json()
    assert by_rule["count"] == 1
