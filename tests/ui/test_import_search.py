"""Bulk import (CSV, JSON, YAML; preview; atomic apply; errors by line and field) and global search."""

from __future__ import annotations

import json

import pytest
import yaml

from cmdb.core.models import ObjectChange
from cmdb.dcim.models import Device

CSV_OK = """name,device_type,role,site,rack,position,face,status,serial,tags
imp01,poweredge-r650,server,zittau,R1,20,front,active,SN-IMP01,"red,blue"
imp02,poweredge-r650,server,zittau,,,,planned,SN-IMP02,
"""


@pytest.mark.django_db
def test_csv_preview_writes_nothing_then_apply_creates_all(admin_client, world):
    r = admin_client.post("/dcim/devices/import/", {"data": CSV_OK, "format": "csv", "action": "preview"})
    assert r.status_code == 200
    assert 'id="import-preview"' in r.content.decode()
    assert not Device.objects.filter(name__startswith="imp").exists()
    r = admin_client.post("/dcim/devices/import/", {"data": CSV_OK, "format": "csv", "action": "apply"})
    assert r.status_code == 302
    imp01 = Device.objects.get(name="imp01")
    assert imp01.rack == world.rack1 and imp01.position == 20
    assert sorted(t.slug for t in imp01.tags.all()) == ["blue", "red"]
    assert Device.objects.get(name="imp02").status == "planned"
    assert ObjectChange.objects.filter(object_repr__startswith="imp", action="create", source="web").count() == 2


@pytest.mark.django_db
def test_one_bad_row_nothing_written_every_bad_row_listed(admin_client, world):
    data = CSV_OK + "imp03,poweredge-r650,server,atlantis,,,,active,,\nimp04,poweredge-r650,server,zittau,,,,bogus,,\n"
    data += "imp05,poweredge-r650,server,zittau,R1,20,front,active,,\n"  # U20 taken by imp01 in the same batch
    for action in ("preview", "apply"):
        r = admin_client.post("/dcim/devices/import/", {"data": data, "format": "csv", "action": action})
        assert r.status_code == 400
        errors = r.content.decode().split('id="import-errors"', 1)[1].split("</table>", 1)[0]
        assert "<td>4</td><td>site</td>" in errors and "atlantis" in errors
        assert "<td>5</td><td>status</td>" in errors
        assert "<td>6</td><td>position</td>" in errors
        assert not Device.objects.filter(name__startswith="imp").exists()


@pytest.mark.django_db
def test_json_and_yaml_import(admin_client, world):
    rows = [{"name": "j1", "device_type": "poweredge-r650", "role": "server", "site": "goerlitz"}]
    r = admin_client.post("/dcim/devices/import/", {"data": json.dumps(rows), "action": "apply"})
    assert r.status_code == 302 and Device.objects.filter(name="j1").exists()
    text = yaml.safe_dump([{"name": "y1", "device_type": "poweredge-r650", "role": "server", "site": "goerlitz"},
                           {"name": "y2", "device_type": "poweredge-r650", "role": "nope", "site": "goerlitz"}])
    r = admin_client.post("/dcim/devices/import/", {"data": text, "format": "yaml", "action": "apply"})
    assert r.status_code == 400
    errors = r.content.decode().split('id="import-errors"', 1)[1]
    assert "<td>5</td><td>role</td>" in errors  # the second item starts on line 5 of the YAML
    assert not Device.objects.filter(name__in=["y1", "y2"]).exists()


@pytest.mark.django_db
def test_import_upload_and_parse_errors(admin_client, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("devices.csv", CSV_OK.encode(), content_type="text/csv")
    r = admin_client.post("/dcim/devices/import/", {"file": upload, "format": "csv", "action": "apply"})
    assert r.status_code == 302 and Device.objects.filter(name="imp02").exists()
    r = admin_client.post("/dcim/devices/import/", {"data": "[{", "format": "json", "action": "apply"})
    assert r.status_code == 400 and "Invalid JSON" in r.content.decode()
    r = admin_client.post("/dcim/devices/import/", {"data": "name,bogus\nx,y\n", "action": "apply"})
    assert r.status_code == 400 and "Unknown column" in r.content.decode()


@pytest.mark.django_db
def test_export_then_import_round_trip(admin_client, world):
    exported = admin_client.get("/dcim/devices/export/?format=yaml&name=web02").content.decode()
    rows = yaml.safe_load(exported)
    rows[0].pop("id")
    rows[0]["name"] = "web02-copy"
    rows[0]["serial"] = "SN-COPY"
    rows[0]["asset_tag"] = None
    r = admin_client.post("/dcim/devices/import/", {"data": yaml.safe_dump(rows), "action": "apply"})
    assert r.status_code == 302, r.content.decode()[-3000:]
    assert Device.objects.get(name="web02-copy").site == world.zittau


@pytest.mark.django_db
def test_search_groups_by_kind(admin_client, world):
    from tests.factories import interface

    interface("eth9", on=world.devices["sw01"], mac_address="00:1A:2B:3C:4D:5E")
    body = admin_client.get("/search/?q=SN-WEB01").content.decode()
    assert f'href="/dcim/devices/{world.devices["web01"].pk}/"' in body
    body = admin_client.get("/search/?q=10.1.0.11").content.decode()
    assert "IP addresses" in body and "10.1.0.11/24" in body
    body = admin_client.get("/search/?q=00:1a:2b:3c:4d:5e").content.decode()
    assert "eth9" in body
    body = admin_client.get("/search/?q=INV-0001").content.decode()
    assert "sw01" in body
    body = admin_client.get("/search/?q=web").content.decode()
    assert "Devices" in body and "IP addresses" in body  # web01 and its DNS name, grouped by kind
