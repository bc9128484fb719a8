"""The UI honours tenant-scoped permissions exactly like the API (cmdb.users.permissions.restrict)."""

from __future__ import annotations

import pytest

from cmdb.dcim.models import Device

DCIM_VIEW = ["dcim.device", "dcim.site", "dcim.rack", "tenancy.tenant", "dcim.devicerole", "dcim.devicetype",
             "dcim.manufacturer", "dcim.platform", "dcim.location", "virtualization.cluster", "dcim.interface",
             "ipam.ipaddress", "tenancy.contact"]


@pytest.mark.django_db
def test_no_grant_no_page(grant, world):
    c = grant("nobody", ["tenancy.tenant"], ["view"])
    r = c.get("/dcim/devices/")
    assert r.status_code == 403 and "You may not view devices" in r.content.decode()
    assert c.get(f"/dcim/devices/{world.devices['web01'].pk}/").status_code == 404
    assert c.get("/dcim/devices/export/?format=csv").status_code == 403
    menu = c.get("/dashboard/").content.decode()
    assert "/dcim/devices/" not in menu and "/tenancy/tenants/" in menu


@pytest.mark.django_db
def test_tenant_scoped_viewer_sees_only_own_tenant(grant, world):
    c = grant("faculty", DCIM_VIEW, ["view"], tenants=[world.tenant_a])
    body = c.get("/dcim/devices/").content.decode()
    assert "web01" in body and "web02" in body and "db01" not in body and "sw01" not in body
    assert c.get(f"/dcim/devices/{world.devices['db01'].pk}/").status_code == 404
    export = c.get("/dcim/devices/export/?format=json").json()
    assert sorted(x["name"] for x in export) == ["web01", "web02"]
    search = c.get("/search/?q=SN-").content.decode()
    assert "web01" in search and "sw01" not in search


@pytest.mark.django_db
def test_read_only_user_is_refused_writes(grant, world):
    c = grant("reader", DCIM_VIEW, ["view"])
    d = world.devices["web01"]
    detail = c.get(f"/dcim/devices/{d.pk}/").content.decode()
    assert 'id="edit-button"' not in detail
    for url in (f"/dcim/devices/{d.pk}/edit/", "/dcim/devices/add/", f"/dcim/devices/{d.pk}/delete/",
                "/dcim/devices/import/"):
        r = c.get(url)
        assert r.status_code == 403, url
        assert 'id="refusal"' in r.content.decode()
    assert c.post("/dcim/devices/edit/", {"pk": [d.pk], "step": "apply", "status": "retired"}).status_code == 403
    assert c.post("/dcim/devices/delete/", {"pk": [d.pk], "confirm": "yes"}).status_code == 403
    assert c.post(f"/dcim/devices/{d.pk}/journal/", {"kind": "info", "comments": "x"}).status_code == 403
    assert Device.objects.filter(pk=d.pk, status="active").exists()


@pytest.mark.django_db
def test_tenant_scoped_writer_cannot_touch_other_tenants(grant, world):
    c = grant("faculty", DCIM_VIEW, ["view", "change", "delete", "add"], tenants=[world.tenant_a])
    own, other = world.devices["web02"], world.devices["db01"]
    assert c.get(f"/dcim/devices/{own.pk}/edit/").status_code == 200
    assert c.get(f"/dcim/devices/{other.pk}/edit/").status_code == 404  # not even visible
    r = c.post("/dcim/devices/edit/", {"pk": [own.pk, other.pk], "step": "apply", "status": "retired"})
    assert r.status_code == 403
    assert not Device.objects.filter(status="retired").exists()
    # Moving one's own device to another tenant is refused by the services' scope check.
    form = c.get(f"/dcim/devices/{own.pk}/edit/").context["form"]
    assert world.tenant_b not in list(form.fields["tenant"].queryset)
    r = c.post("/dcim/devices/add/", {"name": "x1", "device_type": world.r650.pk, "role": world.server.pk,
                                      "site": world.goerlitz.pk, "status": "active", "criticality": "medium",
                                      "tenant": world.tenant_b.pk})
    assert r.status_code == 400 and "tenant" in r.context["form"].errors
    r = c.post("/dcim/devices/add/", {"name": "x1", "device_type": world.r650.pk, "role": world.server.pk,
                                      "site": world.goerlitz.pk, "status": "active", "criticality": "medium"})
    assert r.status_code == 403  # no tenant = outside the writer's tenants
    assert not Device.objects.filter(name="x1").exists()


@pytest.mark.django_db
def test_history_respects_tenants(grant, admin_client, world):
    d = world.devices["web01"]
    admin_client.post(f"/dcim/devices/{d.pk}/journal/", {"kind": "info", "comments": "hello"})
    c = grant("faculty", [*DCIM_VIEW, "core.objectchange", "extras.journalentry"], ["view"],
              tenants=[world.tenant_a])
    assert "hello" in c.get(f"/dcim/devices/{d.pk}/").content.decode()
    c2 = grant("other", [*DCIM_VIEW, "core.objectchange"], ["view"], tenants=[world.tenant_b])
    assert c2.get(f"/dcim/devices/{d.pk}/").status_code == 404
