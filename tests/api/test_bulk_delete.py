"""Bulk delete in bulk SQL (issue 14, found item 5): a constant number of statements per batch,
one change record per deleted object, a hash chain that still verifies, cascades and refusals as before.
"""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cmdb.core import changelog
from cmdb.core.context import change_logging
from cmdb.core.models import ConfigurationItem, ObjectChange
from cmdb.core.services import objects_create
from cmdb.dcim.models import Device, Interface, Site
from cmdb.ipam.models import IPAddress
from cmdb.services.models import Relationship
from cmdb.services.relationships import ensure_builtin_types
from tests import factories as f

from .helpers import ok

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(db: Any) -> f.World:
    return f.world()


def _devices(w: f.World, prefix: str, n: int) -> list[Device]:
    """``n`` tagged devices, each with the device type's two interfaces and an address."""
    with change_logging(source="test"):
        devices = objects_create(Device, [
            {"name": f"{prefix}{i:03}", "device_type": w.r650, "role": w.server, "site": w.goerlitz,
             "tenant": w.tenant_b, "tags": [w.tags["red"]]} for i in range(n)])
        eth0 = {i.device_id: i for i in Interface.objects.filter(device__in=devices, name="eth0")}
        objects_create(IPAddress, [{"address": f"10.9.{i // 200}.{i % 200 + 1}/16", "interface": eth0[d.pk]}
                                   for i, d in enumerate(devices)])
    return devices


def _delete(api: Any, devices: list[Device]) -> Any:
    return api.delete("/api/dcim/devices/", [{"id": d.pk} for d in devices], format="json")


def test_the_statements_do_not_grow_with_the_batch(api: Any, w: f.World) -> None:
    counts = {}
    warm = _devices(w, "warm", 2)
    assert _delete(api, warm).status_code == 204  # content types, token, permissions cached
    for n in (10, 100):
        devices = _devices(w, f"b{n}-", n)
        with CaptureQueriesContext(connection) as queries:
            r = _delete(api, devices)
        assert r.status_code == 204, r.content
        counts[n] = len(queries.captured_queries)
        assert not Device.objects.filter(pk__in=[d.pk for d in devices]).exists()
    assert counts[10] == counts[100], counts
    assert counts[100] / 100 < 1, counts  # well under one statement per device (it was about 39)


def test_one_change_record_per_deleted_object_and_the_chain_verifies(api: Any, w: f.World) -> None:
    devices = _devices(w, "rec", 20)
    pks = [d.pk for d in devices]
    ci_ids = [d.ci_id for d in devices]
    interfaces = list(Interface.objects.filter(device_id__in=pks).values_list("pk", flat=True))
    addresses = list(IPAddress.objects.filter(interface_id__in=interfaces).values_list("pk", flat=True))
    first = ObjectChange.objects.order_by("-id").values_list("id", flat=True).first()
    assert _delete(api, devices).status_code == 204
    records = list(ObjectChange.objects.filter(id__gt=first).order_by("id"))
    assert {r.action for r in records} == {"delete"}
    assert len({r.request_id for r in records}) == 1 and {r.user_name for r in records} == {"admin"}
    by_model: dict[str, list[int]] = {}
    for r in records:
        by_model.setdefault(r.changed_object_type.model, []).append(r.changed_object_id)
    assert sorted(by_model.pop("device")) == sorted(pks)
    assert sorted(by_model.pop("interface")) == sorted(interfaces) and len(interfaces) == 40
    assert sorted(by_model.pop("ipaddress")) == sorted(addresses) and len(addresses) == 20
    assert by_model == {}
    device_records = [r for r in records if r.changed_object_type.model == "device"]
    for r in device_records:
        assert r.prechange_data["name"].startswith("rec") and r.prechange_data["tags"] == ["red"]
        assert r.object_repr == r.prechange_data["name"] and r.tenant_id == w.tenant_b.pk
    for r in records:
        if r.changed_object_type.model == "interface":
            assert r.related_object_id in pks and r.tenant_id == w.tenant_b.pk and r.object_repr
    # The registry rows went with the devices.
    assert not ConfigurationItem.objects.filter(pk__in=ci_ids).exists()
    assert changelog.verify().ok
    out = StringIO()
    call_command("audit", "verify", "--quiet", stdout=out, stderr=StringIO())
    assert "intact" in out.getvalue()


def test_cascades_through_the_registry(api: Any, w: f.World) -> None:
    """A relationship between CIs goes with either end, with its own change record."""
    types = ensure_builtin_types()
    a, b = _devices(w, "rel", 2)
    rel = Relationship.objects.create(source_id=a.ci_id, target_id=b.ci_id, type=types["depends_on"])
    assert _delete(api, [a]).status_code == 204
    assert not Relationship.objects.filter(pk=rel.pk).exists()
    assert ObjectChange.objects.filter(action="delete", changed_object_id=rel.pk,
                                       changed_object_type__model="relationship").count() == 1
    assert Device.objects.filter(pk=b.pk).exists() and ConfigurationItem.objects.filter(pk=b.ci_id).exists()
    assert changelog.verify().ok


def test_a_protected_object_refuses_the_batch_naming_what_blocks(api: Any, w: f.World) -> None:
    empty = f.site("Loebau")
    total = ObjectChange.objects.count()
    r = api.delete("/api/dcim/sites/", [{"id": empty.pk}, {"id": w.goerlitz.pk}], format="json")
    assert r.status_code == 409
    body = r.json()
    assert "Device.site" in body["detail"], body
    assert set(body["dependent_objects"]) == {"db01", "sw01"}
    assert Site.objects.filter(pk__in=[empty.pk, w.goerlitz.pk]).count() == 2
    assert ObjectChange.objects.count() == total
    assert api.delete("/api/dcim/sites/", [{"id": empty.pk}], format="json").status_code == 204


def test_the_web_ui_bulk_delete_takes_the_same_path(client: Any, superuser: Any, w: f.World) -> None:
    client.force_login(superuser)
    few = [d.pk for d in _devices(w, "few", 3)]
    with CaptureQueriesContext(connection) as few_queries:
        assert client.post("/dcim/devices/delete/", {"pk": few, "confirm": "yes"}).status_code == 302
    devices = _devices(w, "ui", 30)
    pks = [d.pk for d in devices]
    first = ObjectChange.objects.order_by("-id").values_list("id", flat=True).first()
    with CaptureQueriesContext(connection) as queries:
        r = client.post("/dcim/devices/delete/", {"pk": pks, "confirm": "yes"})
    assert r.status_code == 302
    # The statements do not grow with the rows (each domain's relations to devices add a constant few).
    assert len(queries.captured_queries) <= len(few_queries.captured_queries) + 2, \
        (len(few_queries.captured_queries), len(queries.captured_queries))
    assert not Device.objects.filter(pk__in=pks).exists()
    assert ObjectChange.objects.filter(id__gt=first, changed_object_type__model="device").count() == 30
    assert changelog.verify().ok
    # Refused: a site still in use; nothing deleted, the page names what blocks.
    r = client.post("/dcim/sites/delete/", {"pk": [w.goerlitz.pk], "confirm": "yes"}, follow=True)
    assert "Nothing deleted" in r.content.decode() and "db01" in r.content.decode()
    assert Site.objects.filter(pk=w.goerlitz.pk).exists()


def test_single_delete_keeps_its_cascades(api: Any, w: f.World) -> None:
    web01 = w.devices["web01"]
    eth0 = Interface.objects.get(device=web01, name="eth0")
    assert api.delete(f"/api/dcim/devices/{web01.pk}/").status_code == 204
    assert not Interface.objects.filter(device_id=web01.pk).exists()
    assert not IPAddress.objects.filter(interface_id=eth0.pk).exists()
    assert not ConfigurationItem.objects.filter(pk=web01.ci_id).exists()
    ok(api.get(f"/api/dcim/devices/{w.devices['web02'].pk}/"))
    assert changelog.verify().ok
