"""Create/edit/delete forms, bulk edit/delete, journal and history: through the services, with refusals."""

from __future__ import annotations

import pytest

from cmdb.core.models import ObjectChange
from cmdb.dcim.models import Device, Rack
from cmdb.extras.models import JournalEntry


def _device_form(world, **extra):
    data = {"name": "new01", "device_type": world.r650.pk, "role": world.server.pk, "site": world.zittau.pk,
            "status": "active", "criticality": "medium", "face": ""}
    data.update(extra)
    return data


@pytest.mark.django_db
def test_create_device_records_change(admin_client, world):
    r = admin_client.post("/dcim/devices/add/", _device_form(world, serial="SN-NEW", tags=[world.tags["red"].pk]))
    assert r.status_code == 302, r.content.decode()[:2000]
    d = Device.objects.get(name="new01")
    assert r["Location"] == f"/dcim/devices/{d.pk}/"
    assert [t.slug for t in d.tags.all()] == ["red"]
    assert d.interfaces.count() == 2  # instantiated from the device type, as through the API
    from django.contrib.contenttypes.models import ContentType

    ct = ContentType.objects.get_for_model(Device)
    change = ObjectChange.objects.filter(changed_object_type=ct, changed_object_id=d.pk, action="create").get()
    assert change.user_name == "admin" and change.source == "web"


@pytest.mark.django_db
def test_validation_messages_at_the_field(admin_client, world):
    other = Rack.objects.create(name="R9", site=world.goerlitz)
    r = admin_client.post("/dcim/devices/add/", _device_form(world, name="", rack=other.pk, position=5))
    assert r.status_code == 400
    form = r.context["form"]
    assert "name" in form.errors
    r = admin_client.post("/dcim/devices/add/", _device_form(world, rack=other.pk))
    assert r.status_code == 400
    assert "does not belong to site" in " ".join(r.context["form"].errors["rack"])
    r = admin_client.post("/dcim/devices/add/", _device_form(world, name="web01", tenant=world.tenant_a.pk))
    assert r.status_code == 400 and r.context["form"].errors
    assert not Device.objects.filter(name="new01").exists()


@pytest.mark.django_db
def test_edit_changes_only_changed_fields_and_shows_diff_in_history(admin_client, world):
    d = world.devices["web02"]
    r = admin_client.get(f"/dcim/devices/{d.pk}/edit/")
    form = r.context["form"]
    data = {k: v for k, v in form.initial.items() if k in form.fields and v is not None}
    data["tags"] = [t.pk for t in d.tags.all()]
    data["serial"] = "SN-CHANGED"
    r = admin_client.post(f"/dcim/devices/{d.pk}/edit/", data)
    assert r.status_code == 302, r.context["form"].errors if r.context else r
    d.refresh_from_db()
    assert d.serial == "SN-CHANGED"
    body = admin_client.get(f"/dcim/devices/{d.pk}/").content.decode()
    history = body.split('id="history"', 1)[1]
    assert "SN-WEB02" in history and "SN-CHANGED" in history


@pytest.mark.django_db
def test_dependent_choices_rack_filtered_by_site(admin_client, world):
    Rack.objects.create(name="G1", site=world.goerlitz)
    d = world.devices["web01"]
    form = admin_client.get(f"/dcim/devices/{d.pk}/edit/").context["form"]
    racks = {r.name for r in form.fields["rack"].queryset}
    assert racks == {"R1"}
    widget = form.fields["rack"].widget.attrs
    assert widget["data-depends-on"] == "site" and widget["data-options-url"] == "/api/dcim/racks/"
    # The endpoint the script calls answers for a logged-in browser session, filtered by site.
    r = admin_client.get(f"/api/dcim/racks/?brief=1&limit=0&site_id={world.goerlitz.pk}")
    assert [x["display"] for x in r.json()["results"]] == ["G1"]


@pytest.mark.django_db
def test_delete_with_confirmation(admin_client, world):
    d = world.devices["sw01"]
    r = admin_client.get(f"/dcim/devices/{d.pk}/delete/")
    assert "sw01" in r.content.decode()
    assert admin_client.post(f"/dcim/devices/{d.pk}/delete/").status_code == 302
    assert not Device.objects.filter(pk=d.pk).exists()
    assert ObjectChange.objects.filter(changed_object_id=d.pk, action="delete").exists()


@pytest.mark.django_db
def test_delete_protected_object_explains(admin_client, world):
    r = admin_client.post(f"/dcim/sites/{world.zittau.pk}/delete/", follow=True)
    assert "cannot be deleted" in r.content.decode()


@pytest.mark.django_db
def test_bulk_edit_preview_lists_changes_then_applies(admin_client, world):
    pks = [world.devices["web01"].pk, world.devices["web02"].pk]
    r = admin_client.post("/dcim/devices/edit/", {"pk": pks, "step": "choose"})
    assert r.status_code == 200 and "Preview changes" in r.content.decode()
    r = admin_client.post("/dcim/devices/edit/", {"pk": pks, "step": "preview", "status": "maintenance",
                                                  "criticality": ""})
    body = r.content.decode()
    preview = body.split('id="bulk-preview"', 1)[1].split("</table>", 1)[0]
    assert preview.count("maintenance") == 2 and "web01" in preview and "web02" in preview
    assert Device.objects.filter(status="maintenance").count() == 0  # nothing written yet
    r = admin_client.post("/dcim/devices/edit/", {"pk": pks, "step": "apply", "status": "maintenance",
                                                  "return_url": "/dcim/devices/?site=zittau"})
    assert r.status_code == 302 and r["Location"] == "/dcim/devices/?site=zittau"
    assert set(Device.objects.filter(status="maintenance").values_list("name", flat=True)) == {"web01", "web02"}
    assert ObjectChange.objects.filter(action="update", user_name="admin", changed_object_id__in=pks).count() == 2


@pytest.mark.django_db
def test_bulk_delete_confirms_then_deletes(admin_client, world):
    pks = [world.devices["db01"].pk, world.devices["sw01"].pk]
    r = admin_client.post("/dcim/devices/delete/", {"pk": pks})
    listed = r.content.decode().split('id="to-delete"', 1)[1].split("</ul>", 1)[0]
    assert "db01" in listed and "sw01" in listed
    assert Device.objects.filter(pk__in=pks).count() == 2
    r = admin_client.post("/dcim/devices/delete/", {"pk": pks, "confirm": "yes"})
    assert r.status_code == 302 and Device.objects.filter(pk__in=pks).count() == 0


@pytest.mark.django_db
def test_journal_entry_added_inline(admin_client, world):
    d = world.devices["web01"]
    r = admin_client.post(f"/dcim/devices/{d.pk}/journal/", {"kind": "warning", "comments": "Fan noise in U10"})
    assert r.status_code == 302
    entry = JournalEntry.objects.get()
    assert entry.assigned_object == d and entry.created_by.username == "admin"
    body = admin_client.get(f"/dcim/devices/{d.pk}/").content.decode()
    assert "Fan noise in U10" in body.split('id="journal"', 1)[1]


@pytest.mark.django_db
def test_detail_shows_related_objects_and_rack_elevation(admin_client, world):
    d = world.devices["web01"]
    body = admin_client.get(f"/dcim/devices/{d.pk}/").content.decode()
    assert "eth0" in body and "10.1.0.11/24" in body and "Red" in body
    body = admin_client.get(f"/dcim/racks/{world.rack1.pk}/").content.decode()
    assert "<svg" in body and 'href="/dcim/devices/' in body and "web01" in body
    body = admin_client.get(f"/virtualization/clusters/{world.cluster.pk}/").content.decode()
    assert "vm-a" in body and "vm-b" in body


@pytest.mark.django_db
def test_detail_query_count_is_constant(admin_client, world, django_assert_max_num_queries):
    from tests.factories import interface

    d = world.devices["web01"]
    url = f"/dcim/devices/{d.pk}/"
    admin_client.get(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        admin_client.get(url)
    for i in range(20):
        interface(f"extra{i}", on=d)
    with django_assert_max_num_queries(len(ctx.captured_queries)):
        admin_client.get(url)


@pytest.mark.django_db
def test_extra_panel_hook(admin_client, world):
    from cmdb.ui import registry

    def panel(request, obj):
        return f'<section class="card" id="extra-panel">Relationships of {obj.name}</section>'

    registry.register_panel("*", panel)
    try:
        body = admin_client.get(f"/dcim/devices/{world.devices['web01'].pk}/").content.decode()
        assert "Relationships of web01" in body
        body = admin_client.get(f"/dcim/sites/{world.zittau.pk}/").content.decode()
        assert "extra-panel" not in body  # "*" means CIs only
    finally:
        registry._panels["*"].remove(panel)


@pytest.mark.django_db
def test_ci_registry_page_links_to_typed_object(admin_client, world):
    d = world.devices["web01"]
    body = admin_client.get(f"/core/configuration-items/{d.ci_id}/").content.decode()
    assert f'href="/dcim/devices/{d.pk}/"' in body
