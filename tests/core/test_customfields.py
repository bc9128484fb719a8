"""Custom field values are validated against their definitions on every write path."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from cmdb.core.context import change_logging
from cmdb.core.services import BatchValidationError, objects_create
from cmdb.dcim.models import Device
from cmdb.extras.customfields import validate_custom_fields
from cmdb.extras.models import CustomField
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def fields() -> dict[str, CustomField]:
    defs = [
        CustomField(name="rack_units_reserved", type="integer", object_types=["dcim.device"],
                    validation_minimum=0, validation_maximum=10, default=0),
        CustomField(name="support_level", type="select", object_types=["dcim.device"],
                    choices=["gold", "silver", "bronze"]),
        CustomField(name="monitored", type="boolean", object_types=["dcim.device"], default=True),
        CustomField(name="inventory_no", type="text", object_types=["dcim.device"],
                    validation_regex=r"^INV-\d{6}$"),
        CustomField(name="cost_center", type="text", object_types=["dcim.device"], required=True),
        CustomField(name="site_code", type="text", object_types=["dcim.site"]),  # another model
    ]
    for cf in defs:
        cf.full_clean()
        cf.save()
    return {cf.name: cf for cf in defs}


VALID = {"rack_units_reserved": 4, "support_level": "gold", "monitored": False, "inventory_no": "INV-004711",
         "cost_center": "CC-42"}


def test_valid_values_are_accepted_and_defaults_applied(fields):
    result = validate_custom_fields(Device, {"cost_center": "CC-42"})
    assert result == {"rack_units_reserved": 0, "support_level": None, "monitored": True, "inventory_no": None,
                      "cost_center": "CC-42"}
    assert validate_custom_fields(Device, dict(VALID)) == VALID
    # Boundaries are inclusive.
    for n in (0, 10):
        assert validate_custom_fields(Device, {**VALID, "rack_units_reserved": n})["rack_units_reserved"] == n


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rack_units_reserved", 11, "at most 10"),
        ("rack_units_reserved", -1, "at least 0"),
        ("rack_units_reserved", "4", "integer"),
        ("rack_units_reserved", 4.5, "integer"),
        ("rack_units_reserved", True, "integer"),
        ("support_level", "platinum", "one of"),
        ("monitored", "yes", "true or false"),
        ("monitored", 1, "true or false"),
        ("inventory_no", "INV-47", "must match"),
        ("inventory_no", 4711, "string"),
        ("cost_center", None, "required"),
        ("cost_center", "", "required"),
    ],
)
def test_invalid_values_are_rejected_naming_the_field(fields, field, value, message):
    with pytest.raises(ValidationError) as excinfo:
        validate_custom_fields(Device, {**VALID, field: value})
    errors = excinfo.value.message_dict["custom_fields"]
    assert len(errors) == 1
    assert errors[0].startswith(f"{field}: ")
    assert message in errors[0]


def test_unknown_and_foreign_keys_are_rejected(fields):
    with pytest.raises(ValidationError) as excinfo:
        validate_custom_fields(Device, {**VALID, "colour": "red", "site_code": "ZI"})
    errors = excinfo.value.message_dict["custom_fields"]
    assert "colour: unknown custom field" in errors
    assert "site_code: unknown custom field" in errors


def test_several_errors_are_reported_together(fields):
    with pytest.raises(ValidationError) as excinfo:
        validate_custom_fields(Device, {"rack_units_reserved": 99, "support_level": "tin"})
    errors = " ".join(excinfo.value.message_dict["custom_fields"])
    for name in ("rack_units_reserved", "support_level", "cost_center"):
        assert name in errors


def test_full_clean_applies_defaults_and_rejects(fields):
    dev = factories.device("srv1", save=False, custom_field_data={"cost_center": "CC-1"})
    dev.full_clean()
    assert dev.custom_field_data["monitored"] is True
    assert dev.custom_field_data["rack_units_reserved"] == 0
    dev.custom_field_data = {"cost_center": "CC-1", "support_level": "unknown"}
    with pytest.raises(ValidationError) as excinfo:
        dev.full_clean()
    assert "support_level" in str(excinfo.value.message_dict)


def test_service_rejects_invalid_custom_fields_and_writes_nothing(fields):
    site, dtype, role = factories.site(), factories.device_type(), factories.role()
    items = [
        {"name": "ok", "site": site, "device_type": dtype, "role": role, "custom_field_data": {"cost_center": "A"}},
        {"name": "bad", "site": site, "device_type": dtype, "role": role,
         "custom_field_data": {"cost_center": "A", "rack_units_reserved": 50}},
    ]
    with pytest.raises(BatchValidationError) as excinfo, change_logging(source="test"):
        objects_create(Device, items)
    assert excinfo.value.errors[0] == {}
    assert any("rack_units_reserved" in m for m in excinfo.value.errors[1]["custom_fields"])
    assert not Device.objects.exists()


def test_api_validates_custom_fields(api, fields):
    site, dtype, role = factories.site(), factories.device_type(), factories.role()
    base = {"name": "srv1", "site": site.pk, "device_type": dtype.pk, "role": role.pk}
    r = api.post("/api/dcim/devices/", {**base, "custom_fields": {"cost_center": "CC-9", "inventory_no": "bad"}},
                 format="json")
    assert r.status_code == 400, r.content
    assert any("inventory_no" in m for m in r.json()["custom_fields"])
    r = api.post("/api/dcim/devices/", {**base, "custom_fields": {"nope": 1, "cost_center": "CC-9"}}, format="json")
    assert r.status_code == 400
    assert any("nope" in m for m in r.json()["custom_fields"])
    r = api.post("/api/dcim/devices/", {**base}, format="json")
    assert r.status_code == 400
    assert any("cost_center" in m for m in r.json()["custom_fields"])
    assert not Device.objects.exists()

    r = api.post("/api/dcim/devices/", {**base, "custom_fields": {"cost_center": "CC-9", "support_level": "silver"}},
                 format="json")
    assert r.status_code == 201, r.content
    assert r.json()["custom_fields"] == {"rack_units_reserved": 0, "support_level": "silver", "monitored": True,
                                         "inventory_no": None, "cost_center": "CC-9"}
    dev_id = r.json()["id"]
    r = api.patch(f"/api/dcim/devices/{dev_id}/", {"custom_fields": {"cost_center": "CC-9",
                                                                      "rack_units_reserved": 11}}, format="json")
    assert r.status_code == 400
    assert Device.objects.get(pk=dev_id).custom_field_data["rack_units_reserved"] == 0


def test_new_definition_takes_effect_at_once(fields):
    assert "colour" not in validate_custom_fields(Device, {"cost_center": "x"})
    CustomField.objects.create(name="colour", type="text", object_types=["dcim.device"], default="black")
    assert validate_custom_fields(Device, {"cost_center": "x"})["colour"] == "black"
