"""Object permissions: per model and action, optionally only for some tenants, enforced by restrict()
everywhere (API lists and details, writes, the CI registry, child objects, global search)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Group

from cmdb.core.models import ConfigurationItem, ObjectChange
from cmdb.dcim.models import Device, Interface, Manufacturer, Site
from cmdb.tenancy.models import Tenant
from cmdb.users.models import ObjectPermission
from cmdb.users.permissions import restrict
from tests import factories

pytestmark = pytest.mark.django_db

ALL_ACTIONS = ["view", "add", "change", "delete"]


def grant(*, types: list[str], actions: list[str], users=(), groups=(), tenants=(), name: str | None = None,
          enabled: bool = True) -> ObjectPermission:
    perm = ObjectPermission(name=name or f"perm-{ObjectPermission.objects.count() + 1}", object_types=types,
                            actions=actions, enabled=enabled)
    perm.full_clean()
    perm.save()
    perm.users.set(users)
    perm.groups.set(groups)
    perm.tenants.set(tenants)
    return perm


def fresh(user):
    """The user as a new request would load it (permissions are cached per user object)."""
    return get_user_model().objects.get(pk=user.pk)


@pytest.fixture
def world():
    """Two tenants with two and one devices, each device with two interfaces, plus shared reference data."""
    a, b = factories.tenant("Faculty A"), factories.tenant("Faculty B")
    site = factories.site("Zittau")
    dtype = factories.device_type()
    dtype.interface_templates.create(name="eth0")
    dtype.interface_templates.create(name="eth1")
    a1 = factories.device("srv-a1", tenant=a)
    a2 = factories.device("srv-a2", tenant=a)
    b1 = factories.device("srv-b1", tenant=b)
    return SimpleNamespace(a=a, b=b, site=site, dtype=dtype, role=factories.role(), a1=a1, a2=a2, b1=b1)


@pytest.fixture
def faculty_admin(make_user, client_for, world):
    """A user with every action on devices, interfaces and the CI registry, but only for tenant A."""
    user = make_user("admin-a")
    grant(types=["dcim.device", "dcim.interface", "core.configurationitem"], actions=ALL_ACTIONS, users=[user],
          tenants=[world.a])
    return SimpleNamespace(user=user, api=client_for(user, write=True))


def names(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row.get("name") or row.get("display") for row in response.json()["results"]}


def device_payload(world, name: str, tenant) -> dict:
    return {"name": name, "site": world.site.pk, "device_type": world.dtype.pk, "role": world.role.pk,
            "tenant": tenant.pk if tenant is not None else None}


def snapshot():
    return (Device.objects.count(), Interface.objects.count(), ConfigurationItem.objects.count(),
            ObjectChange.objects.count())


# --- model-level grants ---------------------------------------------------------------------------


def test_user_without_permissions_gets_403(make_user, client_for, world):
    api = client_for(make_user("nobody"))
    assert api.get("/api/dcim/devices/").status_code == 403
    assert api.get(f"/api/dcim/devices/{world.a1.pk}/").status_code == 403
    r = api.post("/api/dcim/devices/", device_payload(world, "new", world.a), format="json")
    assert r.status_code == 403
    assert not Device.objects.filter(name="new").exists()


def test_view_permission_allows_reading_only(make_user, client_for, world):
    user = make_user("viewer")
    grant(types=["dcim.device"], actions=["view"], users=[user])
    api = client_for(user)
    assert names(api.get("/api/dcim/devices/")) == {"srv-a1", "srv-a2", "srv-b1"}
    assert api.get(f"/api/dcim/devices/{world.b1.pk}/").status_code == 200
    before = snapshot()
    assert api.post("/api/dcim/devices/", device_payload(world, "new", world.a), format="json").status_code == 403
    assert api.patch(f"/api/dcim/devices/{world.a1.pk}/", {"description": "x"}, format="json").status_code == 403
    assert api.delete(f"/api/dcim/devices/{world.a1.pk}/").status_code == 403
    assert snapshot() == before
    # Another model is not covered by the grant.
    assert api.get("/api/dcim/sites/").status_code == 403


def test_disabled_permission_grants_nothing(make_user, client_for, world):
    user = make_user("viewer")
    grant(types=["dcim.device"], actions=["view"], users=[user], enabled=False)
    assert client_for(user).get("/api/dcim/devices/").status_code == 403


def test_wildcard_object_type(make_user, client_for, world):
    user = make_user("auditor")
    grant(types=["*"], actions=["view"], users=[user])
    api = client_for(user)
    assert names(api.get("/api/dcim/devices/")) == {"srv-a1", "srv-a2", "srv-b1"}
    assert names(api.get("/api/tenancy/tenants/")) == {"Faculty A", "Faculty B"}
    assert names(api.get("/api/dcim/sites/")) == {"Zittau"}
    assert api.get("/api/core/object-changes/").status_code == 200
    assert api.post("/api/dcim/sites/", {"name": "G", "slug": "g"}, format="json").status_code == 403


def test_wildcard_object_type_with_tenant_constraint(make_user, client_for, world):
    user = make_user("auditor-a")
    grant(types=["*"], actions=["view"], users=[user], tenants=[world.a])
    api = client_for(user)
    assert names(api.get("/api/dcim/devices/")) == {"srv-a1", "srv-a2"}
    assert names(api.get("/api/tenancy/tenants/")) == {"Faculty A"}
    assert names(api.get("/api/core/configuration-items/")) == {"srv-a1", "srv-a2"}


def test_group_based_permission(make_user, client_for, world):
    group = Group.objects.create(name="Faculty A admins")
    member, outsider = make_user("member"), make_user("outsider")
    member.groups.add(group)
    grant(types=["dcim.device"], actions=["view", "change"], groups=[group], tenants=[world.a])
    api = client_for(member)
    assert names(api.get("/api/dcim/devices/")) == {"srv-a1", "srv-a2"}
    r = api.patch(f"/api/dcim/devices/{world.a1.pk}/", {"description": "via group"}, format="json")
    assert r.status_code == 200, r.content
    assert Device.objects.get(pk=world.a1.pk).description == "via group"
    assert api.get(f"/api/dcim/devices/{world.b1.pk}/").status_code == 404
    assert client_for(outsider).get("/api/dcim/devices/").status_code == 403


# --- tenant-constrained grants ----------------------------------------------------------------------


def test_tenant_scope_list_and_detail(faculty_admin, world):
    api = faculty_admin.api
    assert names(api.get("/api/dcim/devices/")) == {"srv-a1", "srv-a2"}
    assert api.get("/api/dcim/devices/?limit=1").json()["count"] == 2
    assert api.get(f"/api/dcim/devices/{world.a1.pk}/").status_code == 200
    assert api.get(f"/api/dcim/devices/{world.b1.pk}/").status_code == 404
    # Filters cannot widen the scope, nor tell another tenant's id from one that does not exist.
    foreign = api.get(f"/api/dcim/devices/?tenant_id={world.b.pk}")
    unknown = api.get("/api/dcim/devices/?tenant_id=999999")
    assert foreign.status_code == unknown.status_code == 400
    assert foreign.json()["tenant_id"] == [m.replace("999999", str(world.b.pk)) for m in unknown.json()["tenant_id"]]
    assert names(api.get("/api/dcim/devices/?q=srv-b1")) == set()


def test_tenant_scope_create(faculty_admin, world):
    api = faculty_admin.api
    before = snapshot()
    r = api.post("/api/dcim/devices/", device_payload(world, "new-b", world.b), format="json")
    assert r.status_code == 400 and ("tenant" in r.text or "device" in r.text), r.content  # foreign reference
    r = api.post("/api/dcim/devices/", device_payload(world, "new-none", None), format="json")
    assert r.status_code == 403, r.content
    # A batch with one foreign item fails as a whole.
    r = api.post("/api/dcim/devices/", [device_payload(world, "new-a", world.a),
                                        device_payload(world, "new-b", world.b)], format="json")
    assert r.status_code == 400 and ("tenant" in r.text or "device" in r.text), r.content  # foreign reference
    # Nothing was created: no device, no interfaces from its type, no registry row, no change record.
    assert snapshot() == before
    r = api.post("/api/dcim/devices/", device_payload(world, "new-a", world.a), format="json")
    assert r.status_code == 201, r.content
    assert Device.objects.get(name="new-a").tenant_id == world.a.pk


def test_tenant_scope_update(faculty_admin, world):
    api = faculty_admin.api
    before = snapshot()
    r = api.patch(f"/api/dcim/devices/{world.a1.pk}/", {"tenant": world.b.pk}, format="json")
    assert r.status_code == 400 and ("tenant" in r.text or "device" in r.text), r.content  # foreign reference
    r = api.put(f"/api/dcim/devices/{world.a1.pk}/", {**device_payload(world, "srv-a1", world.b)}, format="json")
    assert r.status_code == 400 and "tenant" in r.text, r.content  # foreign reference
    r = api.patch(f"/api/dcim/devices/{world.a1.pk}/", {"tenant": None}, format="json")
    assert r.status_code == 403, r.content
    assert api.patch(f"/api/dcim/devices/{world.b1.pk}/", {"description": "x"}, format="json").status_code == 404
    assert snapshot() == before
    a1 = Device.objects.get(pk=world.a1.pk)
    assert a1.tenant_id == world.a.pk
    assert ConfigurationItem.objects.get(pk=a1.ci_id).tenant_id == world.a.pk
    assert Device.objects.get(pk=world.b1.pk).description == ""
    r = api.patch(f"/api/dcim/devices/{world.a1.pk}/", {"description": "mine"}, format="json")
    assert r.status_code == 200, r.content


def test_tenant_scope_delete(faculty_admin, world):
    api = faculty_admin.api
    assert api.delete(f"/api/dcim/devices/{world.b1.pk}/").status_code == 404
    assert Device.objects.filter(pk=world.b1.pk).exists()
    assert api.delete(f"/api/dcim/devices/{world.a2.pk}/").status_code == 204
    assert not Device.objects.filter(pk=world.a2.pk).exists()


def test_tenant_scope_bulk_update_and_delete_are_atomic(faculty_admin, world):
    api = faculty_admin.api
    before = snapshot()
    r = api.patch("/api/dcim/devices/", [{"id": world.a1.pk, "description": "bulk"},
                                         {"id": world.b1.pk, "description": "bulk"}], format="json")
    assert r.status_code in (403, 404), r.content
    r = api.patch("/api/dcim/devices/", [{"id": world.a1.pk, "description": "bulk"},
                                         {"id": world.a2.pk, "tenant": world.b.pk}], format="json")
    assert r.status_code == 400 and ("tenant" in r.text or "device" in r.text), r.content  # foreign reference
    r = api.delete("/api/dcim/devices/", [{"id": world.a1.pk}, {"id": world.b1.pk}], format="json")
    assert r.status_code in (403, 404), r.content
    assert snapshot() == before
    assert set(Device.objects.values_list("description", flat=True)) == {""}
    assert set(Device.objects.values_list("tenant_id", flat=True)) == {world.a.pk, world.b.pk}


def test_tenant_scope_registry_endpoint(faculty_admin, world):
    r = faculty_admin.api.get("/api/core/configuration-items/")
    assert names(r) == {"srv-a1", "srv-a2"}
    assert r.json()["count"] == 2
    assert faculty_admin.api.get(f"/api/core/configuration-items/{world.b1.ci_id}/").status_code == 404
    assert faculty_admin.api.get(f"/api/core/configuration-items/{world.a1.ci_id}/").status_code == 200


def test_tenant_scope_reaches_child_objects(faculty_admin, world):
    api = faculty_admin.api
    r = api.get("/api/dcim/interfaces/?limit=100")
    assert r.status_code == 200
    devices = {row["device"]["id"] for row in r.json()["results"]}
    assert devices == {world.a1.pk, world.a2.pk}
    assert r.json()["count"] == 4
    b_iface = Interface.objects.filter(device=world.b1).first()
    assert api.get(f"/api/dcim/interfaces/{b_iface.pk}/").status_code == 404
    r = api.post("/api/dcim/interfaces/", {"device": world.b1.pk, "name": "eth9"}, format="json")
    assert r.status_code == 400 and ("tenant" in r.text or "device" in r.text), r.content  # foreign reference
    assert not Interface.objects.filter(name="eth9").exists()
    r = api.post("/api/dcim/interfaces/", {"device": world.a1.pk, "name": "eth9"}, format="json")
    assert r.status_code == 201, r.content


def test_tenant_scope_hides_other_tenants_change_records(make_user, client_for, world):
    user = make_user("auditor-a")
    grant(types=["*"], actions=["view"], users=[user], tenants=[world.a])
    r = client_for(user).get("/api/core/object-changes/?limit=1000")
    assert r.status_code == 200
    assert "srv-b1" not in {row["object_repr"] for row in r.json()["results"]}


def test_shared_reference_data_visible_but_not_writable_under_tenant_scope(make_user, client_for, world):
    user = make_user("admin-a")
    grant(types=["dcim.manufacturer"], actions=ALL_ACTIONS, users=[user], tenants=[world.a])
    api = client_for(user)
    assert names(api.get("/api/dcim/manufacturers/")) == {"Dell"}
    r = api.post("/api/dcim/manufacturers/", {"name": "HPE", "slug": "hpe"}, format="json")
    assert r.status_code == 403, r.content
    mfr = Manufacturer.objects.get(name="Dell")
    assert api.patch(f"/api/dcim/manufacturers/{mfr.pk}/", {"description": "x"}, format="json").status_code in (
        403, 404)
    assert api.delete(f"/api/dcim/manufacturers/{mfr.pk}/").status_code in (403, 404)
    assert list(Manufacturer.objects.values_list("name", "description")) == [("Dell", "")]
    # Without a tenant constraint the same grant may write reference data.
    writer = make_user("catalogue")
    grant(types=["dcim.manufacturer"], actions=ALL_ACTIONS, users=[writer])
    r = client_for(writer).post("/api/dcim/manufacturers/", {"name": "HPE", "slug": "hpe"}, format="json")
    assert r.status_code == 201, r.content


def test_global_search_respects_permissions(faculty_admin, make_user, client_for, api, world):
    r = faculty_admin.api.get("/api/core/search/?q=srv-")
    assert r.status_code == 200, r.content
    hits = r.json()["results"]
    devices = {h["display"] for h in hits if h["object_type"] == "dcim.device"}
    assert devices == {"srv-a1", "srv-a2"}
    assert r.json()["count"] == len(hits)
    assert all("srv-b1" not in h["display"] for h in hits)
    assert all(h["url"].endswith(f"/{h['id']}/") for h in hits)
    # A user without permissions finds nothing (and does not learn that anything exists).
    nobody = client_for(make_user("nobody"))
    r = nobody.get("/api/core/search/?q=srv-")
    assert r.status_code in (200, 403)
    if r.status_code == 200:
        assert r.json() == {"count": 0, "results": []}
    # The superuser finds all three.
    found = {h["display"] for h in api.get("/api/core/search/?q=srv-").json()["results"]
             if h["object_type"] == "dcim.device"}
    assert found == {"srv-a1", "srv-a2", "srv-b1"}


# --- restrict() directly ---------------------------------------------------------------------------


def test_restrict_superuser_anonymous_and_inactive(superuser, make_user, world):
    assert restrict(Device.objects.all(), superuser, "delete").count() == 3
    assert restrict(Device.objects.all(), AnonymousUser(), "view").count() == 0
    user = make_user("someone")
    grant(types=["dcim.device"], actions=["view"], users=[user])
    assert restrict(Device.objects.all(), fresh(user), "view").count() == 3
    user.is_active = False
    user.save()
    assert restrict(Device.objects.all(), fresh(user), "view").count() == 0
    superuser.is_active = False
    superuser.save()
    assert restrict(Device.objects.all(), fresh(superuser), "view").count() == 0


def test_restrict_by_action_and_model(make_user, world):
    user = make_user("u")
    grant(types=["dcim.device"], actions=["view", "change"], users=[user])
    u = fresh(user)
    assert restrict(Device.objects.all(), u, "view").count() == 3
    assert restrict(Device.objects.all(), u, "change").count() == 3
    assert restrict(Device.objects.all(), u, "delete").count() == 0
    assert restrict(Device.objects.all(), u, "add").count() == 0
    assert restrict(Site.objects.all(), u, "view").count() == 0


def test_restrict_by_tenant_and_tenant_path(make_user, world):
    user = make_user("u")
    grant(types=["dcim.device", "dcim.interface", "tenancy.tenant", "core.configurationitem", "dcim.manufacturer"],
          actions=["view", "change"], users=[user], tenants=[world.a])
    u = fresh(user)
    assert set(restrict(Device.objects.all(), u, "view")) == {world.a1, world.a2}
    assert set(restrict(Device.objects.all(), u, "change")) == {world.a1, world.a2}
    # Reached through device__tenant and through the tenant's own pk.
    assert set(restrict(Interface.objects.all(), u, "view").values_list("device_id", flat=True)) == {
        world.a1.pk, world.a2.pk}
    assert list(restrict(Tenant.objects.all(), u, "view")) == [world.a]
    assert set(restrict(ConfigurationItem.objects.all(), u, "view").values_list("name", flat=True)) == {
        "srv-a1", "srv-a2"}
    # Shared reference data: visible, not changeable.
    assert restrict(Manufacturer.objects.all(), u, "view").count() == 1
    assert restrict(Manufacturer.objects.all(), u, "change").count() == 0
    # Restricting an already filtered queryset keeps both conditions.
    assert list(restrict(Device.objects.filter(name="srv-a2"), u, "view")) == [world.a2]


def test_restrict_combines_grants(make_user, world):
    user = make_user("u")
    c = factories.tenant("Faculty C")
    factories.device("srv-c1", tenant=c)
    factories.device("srv-none")
    grant(types=["dcim.device"], actions=["view"], users=[user], tenants=[world.a])
    grant(types=["dcim.device"], actions=["view"], users=[user], tenants=[world.b])
    assert set(restrict(Device.objects.all(), fresh(user), "view").values_list("name", flat=True)) == {
        "srv-a1", "srv-a2", "srv-b1"}
    # An unconstrained grant (here through a group) wins over tenant-constrained ones.
    group = Group.objects.create(name="all devices")
    user.groups.add(group)
    grant(types=["dcim.device"], actions=["view"], groups=[group])
    assert restrict(Device.objects.all(), fresh(user), "view").count() == 5
    # Order of grants does not matter: a constrained grant after the unconstrained one does not narrow it.
    grant(types=["dcim.device"], actions=["view"], users=[user], tenants=[c])
    assert restrict(Device.objects.all(), fresh(user), "view").count() == 5


def test_object_permission_validation():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        ObjectPermission(name="bad", object_types=["dcim.device"], actions=["fly"]).full_clean()
    with pytest.raises(ValidationError):
        ObjectPermission(name="bad", object_types=["dcim.device"], actions=[]).full_clean()
    with pytest.raises(ValidationError):
        ObjectPermission(name="bad", object_types=[], actions=["view"]).full_clean()


def test_tenant_scoped_user_cannot_reference_other_tenants_objects(make_user, client_for, world):
    """A foreign key in a write resolves only to objects the writer may see."""
    user = make_user("linker-a")
    grant(types=["dcim.device", "dcim.site", "dcim.rack", "tenancy.tenant"], actions=["view"], users=[user],
          tenants=[world.a])
    grant(types=["dcim.device"], actions=["change"], users=[user], tenants=[world.a])
    device = Device.objects.get(name="srv-a1")
    r = client_for(user).patch(f"/api/dcim/devices/{device.pk}/", {"tenant": world.b.pk}, format="json")
    assert r.status_code == 400, r.content
    assert "tenant" in r.json()
    device.refresh_from_db()
    assert device.tenant_id == world.a.pk
