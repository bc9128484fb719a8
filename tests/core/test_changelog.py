"""Every write path records an attributed object change with before/after JSON."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command

from cmdb.core import bulk
from cmdb.core.context import change_logging
from cmdb.core.models import ObjectChange
from cmdb.dcim.models import Device, Interface, Manufacturer, Site
from cmdb.extras.models import Tag
from cmdb.users.models import Token
from tests import factories

pytestmark = pytest.mark.django_db


def changes_for(obj_or_model, pk=None):
    model = obj_or_model if isinstance(obj_or_model, type) else type(obj_or_model)
    pk = pk if pk is not None else getattr(obj_or_model, "pk", None)
    qs = ObjectChange.objects.filter(changed_object_type=ContentType.objects.get_for_model(model))
    if pk is not None:
        qs = qs.filter(changed_object_id=pk)
    return qs.order_by("id")


# --- API ------------------------------------------------------------------------------------


def test_api_bulk_create_records_one_change_per_object_with_the_request_id(api, superuser):
    before = ObjectChange.objects.count()
    r = api.post(
        "/api/dcim/sites/",
        [{"name": "Zittau", "slug": "zittau"}, {"name": "Görlitz", "slug": "goerlitz"},
         {"name": "Bautzen", "slug": "bautzen", "description": "branch"}],
        format="json",
    )
    assert r.status_code == 201, r.content
    request_id = uuid.UUID(r["X-Request-ID"])
    created_ids = sorted(item["id"] for item in r.json())
    records = list(ObjectChange.objects.filter(request_id=request_id).order_by("changed_object_id"))
    assert ObjectChange.objects.count() == before + 3
    assert [rec.changed_object_id for rec in records] == created_ids
    for rec in records:
        assert rec.action == "create"
        assert rec.user_id == superuser.pk
        assert rec.user_name == "admin"
        assert rec.source == "api"
        assert rec.time is not None
        assert rec.changed_object_type == ContentType.objects.get_for_model(Site)
        assert rec.prechange_data is None
        assert rec.postchange_data["slug"] in {"zittau", "goerlitz", "bautzen"}
    bautzen = next(rec for rec in records if rec.postchange_data["slug"] == "bautzen")
    assert bautzen.postchange_data["description"] == "branch"
    assert bautzen.object_repr == "Bautzen"
    # A second request gets a different id.
    r2 = api.post("/api/dcim/sites/", {"name": "Löbau", "slug": "loebau"}, format="json")
    assert r2.status_code == 201
    assert r2["X-Request-ID"] != r["X-Request-ID"]
    assert changes_for(Site, r2.json()["id"]).get().request_id == uuid.UUID(r2["X-Request-ID"])


def test_api_update_records_old_and_new_values(api, superuser):
    site = factories.site("Zittau", description="old text")
    r = api.patch(f"/api/dcim/sites/{site.pk}/", {"description": "new text"}, format="json")
    assert r.status_code == 200, r.content
    rec = changes_for(site).last()
    assert rec.action == "update"
    assert rec.request_id == uuid.UUID(r["X-Request-ID"])
    assert rec.user_id == superuser.pk and rec.source == "api"
    assert rec.prechange_data["description"] == "old text"
    assert rec.postchange_data["description"] == "new text"
    assert rec.prechange_data["name"] == rec.postchange_data["name"] == "Zittau"


def test_api_bulk_update_shares_one_request_id(api):
    sites = [factories.site(f"S{i}") for i in range(3)]
    r = api.patch("/api/dcim/sites/", [{"id": s.pk, "facility": f"F{s.pk}"} for s in sites], format="json")
    assert r.status_code == 200, r.content
    records = ObjectChange.objects.filter(request_id=uuid.UUID(r["X-Request-ID"]))
    assert sorted(records.values_list("changed_object_id", flat=True)) == sorted(s.pk for s in sites)
    for rec in records:
        assert rec.action == "update"
        assert rec.prechange_data["facility"] == ""
        assert rec.postchange_data["facility"] == f"F{rec.changed_object_id}"


def test_api_delete_records_prechange_only(api, superuser):
    site = factories.site("Zittau", description="to be removed")
    r = api.delete(f"/api/dcim/sites/{site.pk}/")
    assert r.status_code == 204
    rec = changes_for(Site, site.pk).last()
    assert rec.action == "delete"
    assert rec.request_id == uuid.UUID(r["X-Request-ID"])
    assert rec.user_id == superuser.pk
    assert rec.prechange_data["description"] == "to be removed"
    assert rec.postchange_data is None


def test_api_delete_of_a_device_logs_its_cascaded_interfaces(api):
    dtype = factories.device_type()
    dtype.interface_templates.create(name="eth0")
    dev = factories.device("srv1", dtype=dtype)
    iface_pk = Interface.objects.get(device=dev).pk
    r = api.delete(f"/api/dcim/devices/{dev.pk}/")
    assert r.status_code == 204, r.content
    records = {(rec.changed_object_type.model, rec.changed_object_id): rec
               for rec in ObjectChange.objects.filter(request_id=uuid.UUID(r["X-Request-ID"]))}
    assert set(records) == {("device", dev.pk), ("interface", iface_pk)}
    assert {rec.action for rec in records.values()} == {"delete"}
    iface_rec = records[("interface", iface_pk)]
    assert iface_rec.related_object_type == ContentType.objects.get_for_model(Device)
    assert iface_rec.related_object_id == dev.pk
    assert iface_rec.prechange_data["name"] == "eth0"


def test_api_bulk_delete_shares_one_request_id(api):
    sites = [factories.site(f"S{i}") for i in range(3)]
    r = api.delete("/api/dcim/sites/", [{"id": s.pk} for s in sites], format="json")
    assert r.status_code == 204, r.content
    records = ObjectChange.objects.filter(request_id=uuid.UUID(r["X-Request-ID"]))
    assert sorted(records.values_list("changed_object_id", flat=True)) == sorted(s.pk for s in sites)
    assert {rec.action for rec in records} == {"delete"}
    assert all(rec.postchange_data is None and rec.prechange_data["name"].startswith("S") for rec in records)


def test_failed_request_leaves_no_change_records_and_no_data(api):
    free = factories.site("Free")
    busy = factories.site("Busy")
    factories.rack("R1", at=busy)  # PROTECTs the site
    before = ObjectChange.objects.count()
    # The first site is deleted before the second fails; the whole request must roll back.
    r = api.delete("/api/dcim/sites/", [{"id": free.pk}, {"id": busy.pk}], format="json")
    assert r.status_code == 409, r.content
    assert Site.objects.filter(pk__in=[free.pk, busy.pk]).count() == 2
    assert ObjectChange.objects.count() == before
    assert not ObjectChange.objects.filter(request_id=uuid.UUID(r["X-Request-ID"])).exists()


def test_invalid_bulk_create_leaves_no_change_records(api):
    before = ObjectChange.objects.count()
    r = api.post("/api/dcim/sites/", [{"name": "Ok", "slug": "ok"}, {"name": "Bad", "slug": "not a slug!"}],
                 format="json")
    assert r.status_code == 400
    assert not Site.objects.filter(slug="ok").exists()
    assert ObjectChange.objects.count() == before


# --- ORM, contexts, bulk ----------------------------------------------------------------------


def test_orm_save_outside_any_context_is_logged_as_system():
    mfr = Manufacturer(name="Dell", slug="dell")
    mfr.save()
    rec = changes_for(mfr).get()
    assert rec.action == "create"
    assert rec.source == "system"
    assert rec.user is None and rec.user_name == "system"
    assert isinstance(rec.request_id, uuid.UUID)
    assert rec.postchange_data["slug"] == "dell" and rec.prechange_data is None

    mfr.description = "servers"
    mfr.save()
    rec = changes_for(mfr).last()
    assert rec.action == "update" and rec.source == "system"
    assert rec.prechange_data["description"] == ""
    assert rec.postchange_data["description"] == "servers"

    pk = mfr.pk
    mfr.delete()
    rec = changes_for(Manufacturer, pk).last()
    assert rec.action == "delete"
    assert rec.prechange_data["description"] == "servers"
    assert rec.postchange_data is None


def test_change_logging_context_attributes_and_coalesces(make_user):
    operator = make_user("operator")
    tag = Tag.objects.create(name="Backup", slug="backup")
    with change_logging(user=operator, source="cli") as ctx:
        site = Site(name="Zittau", slug="zittau")
        site.save()
        site.description = "second save in the same context"
        site.save()
        site.tags.add(tag)
        other = Site(name="Görlitz", slug="goerlitz")
        other.save()
    records = list(ObjectChange.objects.filter(request_id=ctx.request_id).order_by("id"))
    # Three writes of one object in one context give one record with the final state.
    assert len(records) == 2
    rec = next(r for r in records if r.changed_object_id == site.pk)
    assert rec.action == "create"
    assert rec.user_id == operator.pk and rec.user_name == "operator" and rec.source == "cli"
    assert rec.postchange_data["description"] == "second save in the same context"
    assert rec.postchange_data["tags"] == ["backup"]


def test_change_logging_rolls_back_data_and_records_together():
    before = ObjectChange.objects.count()
    with pytest.raises(RuntimeError), change_logging(source="cli"):
        Site(name="Zittau", slug="zittau").save()
        raise RuntimeError("abort")
    assert not Site.objects.filter(slug="zittau").exists()
    assert ObjectChange.objects.count() == before


def test_tag_changes_appear_in_postchange(api):
    Tag.objects.create(name="Backup", slug="backup")
    Tag.objects.create(name="Monitoring", slug="monitoring")
    site = factories.site("Zittau")
    # API: tags set in a PATCH
    r = api.patch(f"/api/dcim/sites/{site.pk}/", {"tags": [{"slug": "backup"}, {"slug": "monitoring"}]},
                  format="json")
    assert r.status_code == 200, r.content
    rec = ObjectChange.objects.get(request_id=uuid.UUID(r["X-Request-ID"]))
    assert rec.action == "update"
    assert rec.prechange_data["tags"] == []
    assert rec.postchange_data["tags"] == ["backup", "monitoring"]
    # ORM outside a context: removing a tag is logged too
    site.tags.remove(Tag.objects.get(slug="backup"))
    rec = changes_for(site).last()
    assert rec.action == "update" and rec.source == "system"
    assert rec.prechange_data["tags"] == ["backup", "monitoring"]
    assert rec.postchange_data["tags"] == ["monitoring"]
    # ...and so is clearing them inside a context, as one record with the state before the context.
    with change_logging(source="cli") as ctx:
        site.tags.clear()
        site.tags.add(Tag.objects.get(slug="backup"))
    rec = ObjectChange.objects.get(request_id=ctx.request_id)
    assert rec.prechange_data["tags"] == ["monitoring"]
    assert rec.postchange_data["tags"] == ["backup"]
    # API create with tags
    r = api.post("/api/dcim/sites/", {"name": "Görlitz", "slug": "goerlitz", "tags": [{"slug": "backup"}]},
                 format="json")
    assert r.status_code == 201, r.content
    rec = ObjectChange.objects.get(request_id=uuid.UUID(r["X-Request-ID"]))
    assert rec.action == "create" and rec.postchange_data["tags"] == ["backup"]


def test_bulk_create_records_changes_outside_and_inside_a_context(make_user):
    tags = [Tag(name=f"T{i}", slug=f"t{i}") for i in range(3)]
    bulk.bulk_create(Tag, tags)
    for tag in tags:
        rec = changes_for(tag).get()
        assert rec.action == "create" and rec.source == "system"
        assert rec.postchange_data["slug"] == tag.slug
    user = make_user("importer")
    with change_logging(user=user, source="import") as ctx:
        sites = bulk.bulk_create(Site, [Site(name=f"S{i}", slug=f"s{i}") for i in range(4)])
    records = ObjectChange.objects.filter(request_id=ctx.request_id)
    assert sorted(records.values_list("changed_object_id", flat=True)) == sorted(s.pk for s in sites)
    assert set(records.values_list("source", "user_name", "action")) == {("import", "importer", "create")}


def test_bulk_create_without_log_records_nothing():
    before = ObjectChange.objects.count()
    bulk.bulk_create(Tag, [Tag(name="Quiet", slug="quiet")], log=False)
    assert ObjectChange.objects.count() == before


def test_child_objects_name_their_parent_as_related_object():
    dtype = factories.device_type()
    dtype.interface_templates.create(name="eth0")
    dev = factories.device("srv1", dtype=dtype)
    iface = Interface.objects.get(device=dev, name="eth0")
    rec = changes_for(iface).get()
    assert rec.action == "create"
    assert rec.related_object_type == ContentType.objects.get_for_model(Device)
    assert rec.related_object_id == dev.pk


def test_management_command_token_create_is_logged(make_user):
    bob = make_user("bob")
    out = StringIO()
    call_command("token", "create", "bob", "--write", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    token = Token.objects.get(user=bob)
    rec = changes_for(token).get()
    assert rec.action == "create"
    assert rec.source == "users"
    assert rec.user_id == bob.pk
    assert rec.postchange_data["write_enabled"] is True
    assert rec.postchange_data["key_prefix"] == key[:8]
    # Neither the key nor its digest is written into the change log.
    assert "key_digest" not in rec.postchange_data
    assert key not in str(rec.postchange_data) and token.key_digest not in str(rec.postchange_data)

    call_command("token", "revoke", str(token.pk), stdout=StringIO())
    rec = changes_for(Token, token.pk).last()
    assert rec.action == "delete" and rec.source == "cli"
    assert rec.prechange_data["key_prefix"] == key[:8] and rec.postchange_data is None


@pytest.mark.parametrize(
    "value",
    [1e16, 1.2345678901234567e18, 1e300, -0.0, 0.1, 1.0, 2.5e-7, 10**20, -(10**30), "Zittau–Görlitz 😀", None],
    ids=repr,
)
def test_json_payloads_round_trip_through_the_database_and_verify(api, value):
    """Whatever JSON an object carries, its change record must verify once read back from the
    database (jsonb normalises numbers) and must not turn the write into a server error."""
    from cmdb.core import changelog

    dev = factories.device("srv1")
    r = api.patch(f"/api/dcim/devices/{dev.pk}/", {"local_context_data": {"x": value, "list": [value]}},
                  format="json")
    assert r.status_code == 200, r.content
    rec = ObjectChange.objects.get(request_id=uuid.UUID(r["X-Request-ID"]))
    assert rec.postchange_data["local_context_data"]["x"] == value
    result = changelog.verify()
    assert result.ok, result.reason
