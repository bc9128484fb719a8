"""Model rules enforced by the database itself (the last guard against races and raw writes)
and by validation (full_clean and the write services)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from cmdb.core.context import change_logging
from cmdb.core.services import BatchValidationError, objects_create, objects_update
from cmdb.dcim.models import Device, Interface, Location, Rack
from cmdb.ipam.models import IPAddress
from cmdb.virtualization.models import VirtualMachine, VMInterface
from tests import factories

pytestmark = pytest.mark.django_db


def raw_device(name: str, **extra) -> Device:
    """A device as ``Model.objects.bulk_create`` takes it: no save(), no validation."""
    dtype = extra.pop("dtype", None) or factories.device_type()
    return Device(name=name, site=extra.pop("site", None) or factories.site(), device_type=dtype,
                  manufacturer_id=dtype.manufacturer_id, role=factories.role(), **extra)


def assert_db_refuses(objs) -> None:
    model = type(objs[0])
    before = model.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.bulk_create(objs)
    assert model.objects.count() == before


# --- database constraints ---------------------------------------------------------------------


def test_db_unique_serial_per_manufacturer():
    other_type = factories.device_type("OptiPlex 7010")  # same manufacturer (Dell)
    assert_db_refuses([raw_device("a", serial="ABC123"), raw_device("b", serial="ABC123", dtype=other_type)])
    # Same serial from another manufacturer, and empty serials, are fine.
    hpe = factories.device_type("ProLiant DL380", maker=factories.manufacturer("HPE"))
    Device.objects.bulk_create([raw_device("c", serial="ABC123"), raw_device("d", serial="ABC123", dtype=hpe),
                                raw_device("e", serial=""), raw_device("f", serial="")])
    assert Device.objects.filter(serial="ABC123").count() == 2


def test_db_serial_constraint_holds_on_save_too():
    factories.device("a", serial="XYZ")
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.device("b", serial="XYZ")


def test_db_unique_device_name_per_site_and_tenant():
    t1, t2 = factories.tenant("T1"), factories.tenant("T2")
    assert_db_refuses([raw_device("srv", tenant=t1), raw_device("srv", tenant=t1)])
    # Other tenant or other site: allowed.
    Device.objects.bulk_create([raw_device("srv", tenant=t1), raw_device("srv", tenant=t2),
                                raw_device("srv", tenant=t1, site=factories.site("Görlitz"))])
    assert Device.objects.filter(name="srv").count() == 3


def test_db_unique_device_name_per_site_without_tenant():
    assert_db_refuses([raw_device("srv"), raw_device("srv")])
    Device.objects.bulk_create([raw_device("srv")])
    with pytest.raises(IntegrityError), transaction.atomic():
        Device.objects.bulk_create([raw_device("srv")])


def test_db_device_position_requires_rack():
    assert_db_refuses([raw_device("srv", position=5, face="front")])
    rack = factories.rack()
    Device.objects.bulk_create([raw_device("srv", position=5, face="front", rack=rack)])
    assert Device.objects.get(name="srv").position == 5


def test_db_rack_u_height_at_least_one():
    site = factories.site()
    assert_db_refuses([Rack(name="R0", site=site, u_height=0)])
    Rack.objects.bulk_create([Rack(name="R1", site=site, u_height=1)])


def test_db_ip_address_single_assignment():
    dev = factories.device("srv")
    iface = Interface.objects.create(device=dev, name="eth0")
    vm = VirtualMachine(name="vm1", site=factories.site())
    vm.save()
    vmif = VMInterface.objects.create(virtual_machine=vm, name="eth0")
    assert_db_refuses([IPAddress(address="10.0.0.1/24", interface=iface, vminterface=vmif)])
    IPAddress.objects.bulk_create([IPAddress(address="10.0.0.1/24", interface=iface),
                                   IPAddress(address="10.0.0.2/24", vminterface=vmif)])
    ip = IPAddress.objects.get(address="10.0.0.1/24")
    ip.vminterface = vmif
    with pytest.raises(ValidationError):
        ip.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        IPAddress.objects.filter(pk=ip.pk).update(vminterface=vmif)


# --- the same rules in validation ---------------------------------------------------------------


def test_validation_reports_duplicates_before_the_database():
    site, dtype, role = factories.site(), factories.device_type(), factories.role()
    factories.device("srv1", serial="S1")
    items = [
        {"name": "srv1", "site": site, "device_type": dtype, "role": role},  # name taken in the site
        {"name": "srv2", "site": site, "device_type": dtype, "role": role, "serial": "S1"},  # serial taken
        {"name": "srv3", "site": site, "device_type": dtype, "role": role, "serial": "S3"},
        {"name": "srv4", "site": site, "device_type": dtype, "role": role, "serial": "S3"},  # dup in batch
        {"name": "srv5", "site": site, "device_type": dtype, "role": role},
    ]
    with pytest.raises(BatchValidationError) as excinfo:
        objects_create(Device, items)
    errors = excinfo.value.errors
    assert "name" in errors[0]
    assert "serial" in errors[1]
    assert errors[2] == {}
    assert "serial" in errors[3]
    assert errors[4] == {}
    assert Device.objects.count() == 1  # all-or-nothing


def test_validation_position_without_rack_and_u_height_zero():
    dev = factories.device("srv", save=False, position=3, face="front")
    with pytest.raises(ValidationError) as excinfo:
        dev.full_clean()
    assert "position" in excinfo.value.message_dict
    with pytest.raises(ValidationError) as excinfo:
        Rack(name="R0", site=factories.site(), u_height=0).full_clean()
    assert "u_height" in excinfo.value.message_dict


def test_validation_rack_position_overlap_and_fit():
    rack = factories.rack("R1", u_height=10)
    two_u = factories.device_type("PowerEdge R750", u_height=2)
    factories.device("lower", rack=rack, position=4, face="front", dtype=two_u)  # occupies U4-U5

    overlapping = factories.device("upper", save=False, rack=rack, position=5, face="front")
    with pytest.raises(ValidationError) as excinfo:
        overlapping.full_clean()
    assert "occupied by lower" in str(excinfo.value.message_dict["position"])

    # Full-depth devices clash from the other face too.
    rear = factories.device("rear", save=False, rack=rack, position=4, face="rear")
    with pytest.raises(ValidationError):
        rear.full_clean()

    outside = factories.device("top", save=False, rack=rack, position=10, face="front", dtype=two_u)  # U10-U11
    with pytest.raises(ValidationError) as excinfo:
        outside.full_clean()
    assert "does not fit" in str(excinfo.value.message_dict["position"])

    fits = factories.device("fits", save=False, rack=rack, position=6, face="front", dtype=two_u)  # U6-U7
    fits.full_clean()
    fits.save()

    # Moving a device onto its own slot is no overlap with itself.
    lower = Device.objects.get(name="lower")
    lower.full_clean()


def test_validation_position_overlap_through_the_service():
    rack = factories.rack("R1", u_height=42)
    site, dtype, role = rack.site, factories.device_type(), factories.role()
    factories.device("a", rack=rack, position=1, face="front")
    with pytest.raises(BatchValidationError) as excinfo, change_logging(source="test"):
        objects_create(Device, [{"name": "b", "site": site, "device_type": dtype, "role": role, "rack": rack,
                                 "position": 1, "face": "front"}])
    assert "position" in excinfo.value.errors[0]
    dev = Device.objects.get(name="a")
    with pytest.raises(BatchValidationError) as excinfo, change_logging(source="test"):
        objects_update([dev], [{"position": 42 + 1}])
    assert "position" in excinfo.value.errors[0]
    assert Device.objects.get(name="a").position == 1


def test_validation_rack_of_another_site():
    rack = factories.rack("R1", at=factories.site("Görlitz"))
    dev = factories.device("srv", save=False, at=factories.site("Zittau"), rack=rack)
    with pytest.raises(ValidationError) as excinfo:
        dev.full_clean()
    assert "rack" in excinfo.value.message_dict


def test_validation_location_of_another_site():
    zittau, goerlitz = factories.site("Zittau"), factories.site("Görlitz")
    room = Location(name="Room 1", slug="room-1", site=goerlitz)
    room.save()
    dev = factories.device("srv", save=False, at=zittau, location=room)
    with pytest.raises(ValidationError) as excinfo:
        dev.full_clean()
    assert "location" in excinfo.value.message_dict
    rack = Rack(name="R1", site=zittau, location=room)
    with pytest.raises(ValidationError) as excinfo:
        rack.full_clean()
    assert "location" in excinfo.value.message_dict
    child = Location(name="Shelf", slug="shelf", site=zittau, parent=room)
    with pytest.raises(ValidationError) as excinfo:
        child.full_clean()
    assert "parent" in excinfo.value.message_dict


def test_validation_nested_location_cycle():
    site = factories.site()
    building = Location(name="Building", slug="building", site=site)
    building.save()
    floor = Location(name="Floor", slug="floor", site=site, parent=building)
    floor.save()
    room = Location(name="Room", slug="room", site=site, parent=floor)
    room.save()
    building.parent = room  # building -> room -> floor -> building
    with pytest.raises(ValidationError) as excinfo:
        building.full_clean()
    assert "parent" in excinfo.value.message_dict
    building.parent = building
    with pytest.raises(ValidationError):
        building.full_clean()
    with pytest.raises(BatchValidationError), change_logging(source="test"):
        objects_update([Location.objects.get(pk=building.pk)], [{"parent": room}])
    assert Location.objects.get(pk=building.pk).parent_id is None
