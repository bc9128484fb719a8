"""Every configuration item has exactly one row in the CI registry, kept in step with the typed row."""

from __future__ import annotations

import pytest

from cmdb.core import bulk
from cmdb.core.context import change_logging
from cmdb.core.models import ConfigurationItem
from cmdb.core.services import objects_create, objects_delete, objects_update
from cmdb.dcim.models import Device, Rack
from cmdb.tenancy.models import Contact
from cmdb.virtualization.models import Cluster, ClusterType, VirtualMachine
from tests import factories

pytestmark = pytest.mark.django_db


def cluster(name: str = "prod", **extra) -> Cluster:
    ctype = ClusterType.objects.get_or_create(name="Proxmox VE", slug="proxmox")[0]
    obj = Cluster(name=name, type=ctype, **extra)
    obj.save()
    return obj


def registry_row(obj) -> ConfigurationItem:
    obj.refresh_from_db()
    assert obj.ci_id is not None
    return ConfigurationItem.objects.get(pk=obj.ci_id)


def make(kind: str, **extra):
    if kind == "dcim.device":
        return factories.device("srv1", **extra)
    if kind == "dcim.rack":
        return factories.rack("R1", **extra)
    if kind == "virtualization.cluster":
        return cluster("prod", **extra)
    vm = VirtualMachine(name="vm1", cluster=cluster("vmhost"), **extra)
    vm.save()
    return vm


KINDS = ["dcim.device", "dcim.rack", "virtualization.cluster", "virtualization.virtualmachine"]


@pytest.mark.parametrize("kind", KINDS)
def test_create_update_delete_keeps_one_registry_row(kind):
    tenant = factories.tenant("Faculty of Computer Science")
    owner = Contact.objects.create(name="Ops team", email="ops@example.org")
    before = ConfigurationItem.objects.filter(kind=kind).count()
    obj = make(kind, tenant=tenant, status="planned", criticality="high", owner=owner, description="first")
    assert ConfigurationItem.objects.filter(kind=kind).count() == before + 1
    ci = registry_row(obj)
    assert ci.kind == kind == type(obj)._meta.label_lower
    assert (ci.name, ci.status, ci.tenant_id, ci.criticality, ci.owner_id, ci.description) == (
        obj.name, "planned", tenant.pk, "high", owner.pk, "first")

    other = factories.tenant("Faculty of Mathematics")
    obj.name = f"{obj.name}-renamed"
    obj.status = "maintenance"
    obj.tenant = other
    obj.criticality = "critical"
    obj.description = "second"
    obj.save()
    ci = registry_row(obj)
    assert (ci.name, ci.status, ci.tenant_id, ci.criticality, ci.description) == (
        obj.name, "maintenance", other.pk, "critical", "second")
    assert ConfigurationItem.objects.filter(kind=kind).count() == before + 1

    ci_id = obj.ci_id
    obj.delete()
    assert not ConfigurationItem.objects.filter(pk=ci_id).exists()
    assert ConfigurationItem.objects.filter(kind=kind).count() == before


def test_registry_rows_are_distinct_per_ci():
    devices = [factories.device(f"srv{i}") for i in range(3)]
    ci_ids = {d.ci_id for d in devices}
    assert len(ci_ids) == 3
    assert set(ConfigurationItem.objects.filter(kind="dcim.device").values_list("pk", flat=True)) == ci_ids


def test_bulk_create_creates_registry_rows():
    site = factories.site()
    tenant = factories.tenant("Library")
    racks = bulk.bulk_create(Rack, [Rack(name=f"R{i}", site=site, tenant=tenant, status="active") for i in range(5)])
    assert len({r.ci_id for r in racks}) == 5
    rows = ConfigurationItem.objects.filter(pk__in=[r.ci_id for r in racks])
    assert sorted(rows.values_list("name", flat=True)) == [f"R{i}" for i in range(5)]
    assert set(rows.values_list("kind", "tenant_id", "status")) == {("dcim.rack", tenant.pk, "active")}
    for rack in racks:
        assert Rack.objects.get(pk=rack.pk).ci_id == rack.ci_id


def test_services_keep_the_registry_in_step():
    site, dtype, role = factories.site(), factories.device_type(), factories.role()
    with change_logging(source="test"):
        created = objects_create(Device, [
            {"name": f"node{i}", "site": site, "device_type": dtype, "role": role, "criticality": "low"}
            for i in range(3)
        ])
    assert set(ConfigurationItem.objects.filter(kind="dcim.device").values_list("name", "criticality")) == {
        ("node0", "low"), ("node1", "low"), ("node2", "low")}
    with change_logging(source="test"):
        objects_update(created, [{"status": "retired"}] * 3)
    assert set(ConfigurationItem.objects.filter(kind="dcim.device").values_list("status", flat=True)) == {"retired"}
    with change_logging(source="test"):
        objects_delete(created[:2])
    assert list(ConfigurationItem.objects.filter(kind="dcim.device").values_list("name", flat=True)) == ["node2"]


def test_queryset_delete_removes_registry_rows():
    for i in range(3):
        factories.device(f"srv{i}")
    assert ConfigurationItem.objects.filter(kind="dcim.device").count() == 3
    Device.objects.filter(name__in=["srv0", "srv1"]).delete()
    assert list(ConfigurationItem.objects.filter(kind="dcim.device").values_list("name", flat=True)) == ["srv2"]


def test_api_writes_keep_the_registry_in_step(api):
    site, dtype, role = factories.site(), factories.device_type(), factories.role()
    tenant = factories.tenant("Library")
    r = api.post("/api/dcim/devices/", {"name": "srv1", "site": site.pk, "device_type": dtype.pk, "role": role.pk,
                                        "tenant": tenant.pk, "criticality": "critical"}, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    ci = ConfigurationItem.objects.get(pk=body["ci_id"])
    assert (ci.kind, ci.name, ci.tenant_id, ci.criticality) == ("dcim.device", "srv1", tenant.pk, "critical")
    r = api.patch(f"/api/dcim/devices/{body['id']}/", {"status": "maintenance", "name": "srv1b"}, format="json")
    assert r.status_code == 200, r.content
    ci.refresh_from_db()
    assert (ci.name, ci.status) == ("srv1b", "maintenance")
    r = api.get(f"/api/core/configuration-items/{ci.pk}/")
    assert r.status_code == 200
    assert r.json()["kind"] == "dcim.device" and r.json()["name"] == "srv1b"
    assert api.delete(f"/api/dcim/devices/{body['id']}/").status_code == 204
    assert not ConfigurationItem.objects.filter(pk=ci.pk).exists()


@pytest.mark.django_db
def test_bulk_create_registry_takes_tenant_saved_after_assignment():
    """A tenant that was unsaved when assigned still reaches the registry row (as with save())."""
    from cmdb.tenancy.models import Tenant

    site, dtype, role = factories.site("Zittau"), factories.device_type(), factories.role()
    tenant = Tenant(name="Library", slug="library")
    device = Device(name="lib-srv", site=site, device_type=dtype, manufacturer=dtype.manufacturer, role=role,
                    tenant=tenant)
    with change_logging(source="test"):
        tenant.save()
        bulk.bulk_create(Device, [device])
    ci = ConfigurationItem.objects.get(pk=Device.objects.get(name="lib-srv").ci_id)
    assert ci.tenant_id == tenant.pk
