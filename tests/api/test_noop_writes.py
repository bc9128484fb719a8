"""Writes that change nothing record nothing; unknown fields are a 400 (issue 14, found item 4)."""

from __future__ import annotations

from typing import Any

import pytest

from cmdb.core.context import change_logging
from cmdb.core.models import ObjectChange
from cmdb.dcim.models import Device
from tests import factories as f

from .helpers import ok

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(db: Any) -> f.World:
    return f.world()


def _updates(pk: int) -> int:
    return ObjectChange.objects.filter(changed_object_id=pk, action="update").count()


def test_a_patch_with_the_same_values_records_nothing(api: Any, w: f.World) -> None:
    d = w.devices["web02"]
    stamp, before, total = Device.objects.get(pk=d.pk).last_updated, _updates(d.pk), ObjectChange.objects.count()
    body = ok(api.patch(f"/api/dcim/devices/{d.pk}/", {"serial": "SN-WEB02", "status": "active",
                                                       "site": w.zittau.pk, "tags": [{"slug": "red"}]},
                        format="json"))
    assert body["serial"] == "SN-WEB02"
    assert ObjectChange.objects.count() == total and _updates(d.pk) == before
    assert Device.objects.get(pk=d.pk).last_updated == stamp  # not even saved
    # An empty PATCH is the same no-op.
    ok(api.patch(f"/api/dcim/devices/{d.pk}/", {}, format="json"))
    assert ObjectChange.objects.count() == total
    # A real change is still recorded, once.
    ok(api.patch(f"/api/dcim/devices/{d.pk}/", {"serial": "SN-NEW"}, format="json"))
    assert _updates(d.pk) == before + 1


def test_a_put_of_what_was_read_records_nothing(api: Any, w: f.World) -> None:
    t = f.tenant("Physik", description="Physics")
    total = ObjectChange.objects.count()
    body = ok(api.get(f"/api/tenancy/tenants/{t.pk}/"))
    # The whole representation goes back, read-only fields (id, url, display, created, ...) included.
    ok(api.put(f"/api/tenancy/tenants/{t.pk}/", {**body, "group": None, "tags": []}, format="json"))
    assert ObjectChange.objects.count() == total


def test_unknown_fields_are_a_400_naming_them(api: Any, w: f.World) -> None:
    d = w.devices["web02"]
    total = ObjectChange.objects.count()
    r = api.patch(f"/api/dcim/devices/{d.pk}/", {"nonsense": 1}, format="json")
    assert r.status_code == 400 and list(r.json()) == ["nonsense"], r.content
    assert "Unknown field 'nonsense'" in r.json()["nonsense"][0] and "serial" in r.json()["nonsense"][0]
    r = api.patch(f"/api/dcim/devices/{d.pk}/", {"stauts": "planned", "serial": "CHANGED"}, format="json")
    assert r.status_code == 400 and "stauts" in r.json()
    r = api.post("/api/dcim/devices/", {"name": "new", "device_type": w.r650.pk, "role": w.server.pk,
                                        "site": w.zittau.pk, "colour": "red"}, format="json")
    assert r.status_code == 400 and "colour" in r.json()
    r = api.patch("/api/dcim/devices/", [{"id": d.pk, "serial": "CHANGED"}, {"id": w.devices["db01"].pk, "x": 1}],
                  format="json")
    assert r.status_code == 400 and r.json()[0] == {} and "x" in r.json()[1]
    assert Device.objects.get(pk=d.pk).serial == "SN-WEB02"
    assert not Device.objects.filter(name="new").exists()
    assert ObjectChange.objects.count() == total


def test_a_bulk_patch_records_only_the_objects_it_changes(api: Any, w: f.World) -> None:
    web01, web02 = w.devices["web01"].pk, w.devices["web02"].pk
    before = {pk: _updates(pk) for pk in (web01, web02)}
    ok(api.patch("/api/dcim/devices/", [{"id": web01, "serial": "SN-WEB01"}, {"id": web02, "serial": "SN-2"}],
                 format="json"))
    assert _updates(web01) == before[web01]
    assert _updates(web02) == before[web02] + 1
    record = ObjectChange.objects.filter(changed_object_id=web02, action="update").latest("id")
    assert (record.prechange_data["serial"], record.postchange_data["serial"]) == ("SN-WEB02", "SN-2")


def test_a_save_that_changes_nothing_records_nothing(w: f.World) -> None:
    """The change log itself drops no-op updates, whoever saves (a shell, a job, a service)."""
    d = Device.objects.get(pk=w.devices["db01"].pk)
    total = ObjectChange.objects.count()
    with change_logging(source="test"):
        d.save()
        d.tags.set(list(d.tags.all()))
    d.save()  # outside a context: recorded at once, or not at all
    assert ObjectChange.objects.count() == total
    with change_logging(source="test"):
        d.description = "changed"
        d.save()
        d.description = ""
        d.save()  # changed and changed back within one request: nothing happened
    assert ObjectChange.objects.count() == total


def test_the_edit_form_submitted_unchanged_records_nothing(admin_client: Any, w: f.World) -> None:
    from tests.ui.test_bulk_edit import _browser_post_data

    d = w.devices["web01"]
    total = ObjectChange.objects.count()
    page = admin_client.get(f"/dcim/devices/{d.pk}/edit/")
    assert page.status_code == 200
    r = admin_client.post(f"/dcim/devices/{d.pk}/edit/", _browser_post_data(page.content.decode()))
    assert r.status_code == 302
    assert ObjectChange.objects.count() == total


@pytest.fixture
def admin_client(client: Any, superuser: Any) -> Any:
    client.force_login(superuser)
    return client
