"""What an imported value may be, and what it becomes (cmdb/ui/importvalues.py; docs/ui.md, "Import").

Regression tests for the import's server errors of issue 12 (a number for a date, ``1e309`` for a
position, a NUL byte in a text, all passed by the preview), for ``"name": ["x"]`` being stored as
the text ``['x']``, and for what the fuzzing of tests/security/test_fuzz_import.py found: lone
surrogates, huge numbers and odd digits for related objects, duplicate CSV columns, oversized CSV
fields, YAML aliases, deep nesting, and a tenant-limited user's preview passing a row the apply
then refused.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cmdb.core.models import ObjectChange
from cmdb.dcim.models import Device
from cmdb.ipam.models import IPAddress

URL = "/dcim/devices/import/"
BASE = {"device_type": "poweredge-r650", "role": "server", "site": "goerlitz"}


def errors_of(response) -> str:
    body = response.content.decode()
    assert 'id="import-errors"' in body, body[-2000:]
    return body.split('id="import-errors"', 1)[1].split("</table>", 1)[0]


def refused(client, text: str, fmt: str = "json", url: str = URL) -> str:
    """Preview and apply both refuse ``text`` with a row error, and nothing is written."""
    before = (Device.objects.count(), ObjectChange.objects.count())
    for action in ("preview", "apply"):
        r = client.post(url, {"data": text, "format": fmt, "action": action})
        assert r.status_code == 400, (action, r.status_code)
    assert (Device.objects.count(), ObjectChange.objects.count()) == before
    return errors_of(r)


def parse_refused(client, text: str, fmt: str) -> str:
    r = client.post(URL, {"data": text, "format": fmt, "action": "preview"})
    assert r.status_code == 400
    body = r.content.decode()
    assert 'id="import-error"' in body, body[-1500:]
    return body.split('id="import-error">', 1)[1].split("</div>", 1)[0]


def row(**values) -> str:
    return json.dumps([{"name": "imp-x", **BASE, **values}])


@pytest.mark.django_db
@pytest.mark.parametrize("values, field, message", [
    ({"purchase_date": 20240101}, "purchase_date", "Expected a date as YYYY-MM-DD, not a number."),
    ({"purchase_date": "2024-02-30"}, "purchase_date", "Not a valid date."),
    ({"warranty_end": ["2024-01-01"]}, "warranty_end", "not a list"),
    ({"name": ["x"]}, "name", "Expected text, not a list"),
    ({"name": {"first": "x"}}, "name", "Expected text, not an object"),
    ({"serial": True}, "serial", "Expected text, not true/false"),
    ({"serial": 1.5}, "serial", "Expected text, not a number"),
    ({"description": "nul\u0000byte"}, "description", "contains a NUL character"),
    ({"description": "lone \ud800 surrogate"}, "description", "lone UTF-16 surrogate"),
    ({"rack": "R1", "site": "zittau", "position": 2**64}, "position", "out of range"),
    ({"rack": "R1", "site": "zittau", "position": 1.5}, "position", "Expected a whole number."),
    ({"rack": "R1", "site": "zittau", "position": "²"}, "position", "Expected a whole number."),
    ({"rack": "R1", "site": "zittau", "position": True}, "position", "not true/false"),
    ({"device_type": "99999999999999999999999"}, "device_type", "No device type"),
    ({"device_type": "²"}, "device_type", "No device type"),
    ({"device_type": ["poweredge-r650"]}, "device_type", "Expected the name or ID of a device type, not a list"),
    ({"site": "zit\u0000tau"}, "site", "contains a NUL character"),
    ({"tags": ["red", ["blue"]]}, "tags", "not a list"),
])
def test_values_the_field_cannot_take_are_row_errors(admin_client, world, values, field, message):
    errors = refused(admin_client, json.dumps([{"name": "imp-x", **BASE, **values}], ensure_ascii=True))
    assert f"<td>1</td><td>{field}</td>" in errors and message in errors, errors
    assert not Device.objects.filter(name__in=["imp-x", "['x']"]).exists()


@pytest.mark.django_db
def test_infinity_for_a_position_is_a_row_error(admin_client, world):
    # ``1e309`` is valid JSON and reads as infinity: int() of it raised OverflowError.
    text = '[{"name": "imp-x", "device_type": "poweredge-r650", "role": "server", "site": "zittau", ' \
           '"rack": "R1", "position": 1e309}]'
    assert "Expected a whole number." in refused(admin_client, text)
    assert "Expected a whole number." in refused(admin_client, text.replace("1e309", "NaN"))


@pytest.mark.django_db
def test_a_lone_surrogate_in_an_unknown_column_is_shown_not_a_500(admin_client, world):
    errors = refused(admin_client, '[{"name": "imp-x", "\\ud800bad": "\\udfff"}]')
    assert "Unknown column" in errors


@pytest.mark.django_db
def test_the_conversions_that_are_taken(admin_client, world):
    rows = [{"name": "  imp-1 ", **BASE, "serial": 12345, "purchase_date": " 2024-01-31 ", "tags": ["red", "blue"],
             "site": "zittau", "rack": "R1", "position": "20", "face": "front"},
            {"name": "imp-2", **BASE, "serial": "", "tags": "blue", "site": str(world.zittau.pk), "rack": "R1",
             "position": 21.0, "face": "front"}]
    r = admin_client.post(URL, {"data": json.dumps(rows), "action": "apply"})
    assert r.status_code == 302, errors_of(r)
    one, two = Device.objects.get(name="imp-1"), Device.objects.get(name="imp-2")
    assert (one.serial, one.purchase_date, one.position) == ("12345", dt.date(2024, 1, 31), 20)
    assert sorted(t.slug for t in one.tags.all()) == ["blue", "red"]
    assert (two.serial, two.position, two.site) == ("", 21, world.zittau)


@pytest.mark.django_db
def test_yaml_dates_and_numbers(admin_client, world):
    text = "- name: imp-y\n  device_type: poweredge-r650\n  role: server\n  site: goerlitz\n" \
           "  purchase_date: 2024-03-01\n  serial: 0042\n  asset_tag: 2024-03-01\n  description: 1:20\n" \
           "  comments: 0x1f\n  position:\n"
    r = admin_client.post(URL, {"data": text, "format": "yaml", "action": "apply"})
    assert r.status_code == 302, errors_of(r)
    device = Device.objects.get(name="imp-y")
    # YAML 1.1 would read 0042 as octal 34, 1:20 as 80 and 0x1f as 31: the import keeps them as written.
    assert (device.purchase_date, device.serial, device.asset_tag) == (dt.date(2024, 3, 1), "0042", "2024-03-01")
    assert (device.description, device.comments, device.position) == ("1:20", "0x1f", None)


@pytest.mark.django_db
def test_csv_with_a_duplicate_column_is_refused(admin_client, world):
    text = "name,device_type,role,site,name\nimp-c,poweredge-r650,server,goerlitz,other\n"
    assert "appears more than once" in parse_refused(admin_client, text, "csv")
    assert not Device.objects.filter(name__in=["imp-c", "other"]).exists()


@pytest.mark.django_db
def test_csv_field_over_the_size_limit_and_unterminated_quotes(admin_client, world):
    text = "name,device_type,role,site,comments\nimp-c,poweredge-r650,server,goerlitz," + "x" * 200_000 + "\n"
    assert "field larger than field limit" in parse_refused(admin_client, text, "csv")
    r = admin_client.post(URL, {"data": 'name,device_type\n"imp-q,poweredge-r650\n', "format": "csv",
                                "action": "preview"})
    assert r.status_code == 400


@pytest.mark.django_db
def test_a_csv_file_with_a_bom_or_not_utf8(admin_client, world):
    text = "name,device_type,role,site\nimp-ü,poweredge-r650,server,goerlitz\n"
    upload = SimpleUploadedFile("d.csv", text.encode("utf-8-sig"), content_type="text/csv")
    r = admin_client.post(URL, {"file": upload, "format": "csv", "action": "apply"})
    assert r.status_code == 302 and Device.objects.filter(name="imp-ü").exists()
    upload = SimpleUploadedFile("d.csv", text.replace("imp-ü", "imp-ö").encode("latin-1"), content_type="text/csv")
    r = admin_client.post(URL, {"file": upload, "format": "csv", "action": "apply"})
    assert r.status_code == 400 and "not UTF-8" in r.content.decode()


@pytest.mark.django_db
def test_yaml_aliases_deep_nesting_and_long_numbers_are_parse_errors(admin_client, world):
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    assert "Aliases" in parse_refused(admin_client, laughs + "name: x\n", "yaml")
    assert "nested" in parse_refused(admin_client, "[" * 100_000 + "]" * 100_000, "json")
    assert "nested deeper than 32 levels" in parse_refused(
        admin_client, json.dumps([{"name": "x", "tags": json.loads("[" * 40 + "]" * 40)}]), "json")
    assert "too long" in parse_refused(admin_client, '[{"name": "x", "serial": ' + "1" * 5000 + "}]", "json")
    assert "too long" in parse_refused(admin_client, "- name: x\n  serial: " + "1" * 5000 + "\n", "yaml")


@pytest.mark.django_db
def test_a_tenant_admins_preview_names_rows_outside_the_tenant(grant, world):
    """The preview said the row was fine; the apply's scope check after the write refused it."""
    web = grant("fa", ["ipam.ipaddress"], ["view", "add"], tenants=[world.tenant_a])
    text = json.dumps([{"address": "10.9.0.1/24", "tenant": "informatik"}, {"address": "10.9.0.2/24"}])
    before = ObjectChange.objects.count()
    r = web.post("/ipam/ip-addresses/import/", {"data": text, "action": "preview"})
    assert r.status_code == 400
    errors = errors_of(r)
    assert "<td>2</td><td>tenant</td>" in errors and "outside your tenants" in errors
    assert "<td>1</td>" not in errors
    r = web.post("/ipam/ip-addresses/import/", {"data": text, "action": "apply"})
    assert r.status_code in (400, 403)
    assert not IPAddress.objects.filter(address__startswith="10.9.0.").exists()
    assert ObjectChange.objects.count() == before  # no change record of the rolled-back rows either
    r = web.post("/ipam/ip-addresses/import/", {"data": json.dumps([json.loads(text)[0]]), "action": "apply"})
    assert r.status_code == 302 and IPAddress.objects.get(address="10.9.0.1/24").tenant == world.tenant_a


@pytest.mark.django_db
def test_a_database_rule_validation_does_not_know_is_a_400_in_preview_and_apply(admin_client, world):
    """An address on an interface and a VM interface at once breaks a CHECK constraint only the database checks."""
    from cmdb.dcim.models import Interface
    from cmdb.virtualization.models import VMInterface

    iface = Interface.objects.filter(device=world.devices["web01"]).first()
    vif = VMInterface.objects.first()
    text = json.dumps([{"address": "10.9.1.1/24", "interface": iface.pk, "vminterface": vif.pk}])
    before = (IPAddress.objects.count(), ObjectChange.objects.count())
    for action in ("preview", "apply"):
        r = admin_client.post("/ipam/ip-addresses/import/", {"data": text, "action": action})
        assert r.status_code == 400, (action, r.status_code)
        assert "The database refused the rows" in r.content.decode()
    assert (IPAddress.objects.count(), ObjectChange.objects.count()) == before
