"""Licence coupling: a pool's desktops consume the seats of its golden image's software."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from cmdb.software.models import License, SoftwareInstallation, SoftwareProduct, SoftwareVersion
from vdi import licences
from vdi.models import LicencePolicy
from vdi.schedule import specs

from .conftest import make_pool

pytestmark = pytest.mark.django_db


@pytest.fixture
def autocad(vdi_world):
    product = SoftwareProduct.objects.create(vendor="Autodesk", name="AutoCAD", slug="autocad")
    version = SoftwareVersion.objects.create(product=product, version="2026")
    SoftwareInstallation.objects.create(ci_id=vdi_world.golden.ci_id, version=version, product=product)
    # Free software on the image counts nothing.
    free = SoftwareProduct.objects.create(vendor="", name="LibreOffice", slug="libreoffice")
    SoftwareInstallation.objects.create(ci_id=vdi_world.golden.ci_id, product=free,
                                        version=SoftwareVersion.objects.create(product=free, version="25.2"))
    return product


def licence(product, metric: str, quantity: int, tenant=None) -> License:
    lic = License(name=f"AutoCAD {metric}", product=product, metric=metric, quantity=quantity, tenant=tenant)
    lic.save()
    return lic


@pytest.mark.parametrize("metric, quantity, fits, too_big", [
    ("device", 10, 9, 10),  # the golden image itself holds one seat
    ("core", 20, 9, 10),  # 2 vCPUs per desktop; the image's 2 vCPUs hold two cores
    ("concurrent", 5, 4, 5),
    ("user", 3, 3, 4),  # named users: the image holds none
])
def test_growing_past_the_seats_is_refused_naming_the_golden_image(vdi_world, autocad, metric, quantity, fits,
                                                                   too_big):
    licence(autocad, metric, quantity, tenant=vdi_world.tenant)
    pool = make_pool(vdi_world, max_size=fits)
    pool.max_size = too_big
    with pytest.raises(ValidationError) as exc:
        pool.validated_save()
    message = exc.value.message_dict["golden_image"][0]
    assert message.startswith("Autodesk AutoCAD: the pools would need") and "short" in message


def test_the_pools_of_a_tenant_share_the_seats_and_the_report_shows_them(vdi_world, autocad):
    licence(autocad, "device", 10)  # a shared licence
    make_pool(vdi_world, "cad-1", max_size=5)
    with pytest.raises(ValidationError) as exc:
        make_pool(vdi_world, "cad-2", max_size=5)
    assert "golden_image" in exc.value.message_dict
    make_pool(vdi_world, "cad-2", max_size=4)
    (row,) = [g.as_dict() for g in licences.seats(vdi_world.tenant.pk, specs())]
    assert row == {"product_id": autocad.pk, "product": "Autodesk AutoCAD", "metric": "device", "owned": 10,
                   "physical": 1, "vdi": 9, "left": 0, "licences": [row["licences"][0]], "policy": "refuse"}


def test_a_warn_policy_lets_the_pool_grow_and_warns(vdi_world, autocad, caplog):
    lic = licence(autocad, "device", 3)
    LicencePolicy(license=lic, on_exceed="warn").validated_save()
    pool = make_pool(vdi_world, max_size=8)
    assert pool.pk
    assert "AutoCAD: the pools would need 8 device seats; 3 owned, 1 used by installations, 6 short." in caplog.text


def test_a_golden_image_without_licenced_software_counts_nothing(vdi_world):
    assert make_pool(vdi_world, max_size=10).pk
    assert licences.seats(vdi_world.tenant.pk, specs()) == []


def test_the_compliance_report_has_a_vdi_column_from_the_hook(vdi_world, autocad, client,
                                                              django_assert_max_num_queries):
    """The core's report asks the hook; the VDI domain answers with what its desktops use now."""
    from cmdb.core import hooks
    from cmdb.software.compliance import compliance
    from vdi.models import Desktop

    device = licence(autocad, "device", 4)
    licence(autocad, "core", 100, tenant=vdi_world.tenant)
    pool = make_pool(vdi_world, max_size=4, vcpus=2)
    user = get_user_model().objects.create_user("ada")
    for i, state in enumerate(["ready", "in_use", "broken", "deleting"], start=1):
        Desktop(name=f"cad-{i:03d}", pool=pool, state=state,
                assigned_user=user if state == "in_use" else None).validated_save()
    assert any(r is not None for _f, r in hooks.licence_consumption_requested.send(sender=None, products={autocad.pk}))
    with django_assert_max_num_queries(14):
        report = compliance()
    rows = {r["metric"]: r for r in report.rows}
    assert report.sources == [{"source": "vdi", "label": "VDI"}]
    # The golden image's installation, then three desktops (a deleting one is gone): 4 of 4 device seats.
    assert (rows["device"]["installed"], rows["device"]["other_use"], rows["device"]["used"]) == (1, {"vdi": 3}, 4)
    assert rows["device"]["license_id"] == device.pk and rows["device"]["status"] == "ok"
    # 2 cores of the image, 3 desktops x 2 vCPUs.
    assert (rows["core"]["installed"], rows["core"]["other_use"], rows["core"]["used"]) == (2, {"vdi": 6}, 8)
    # A fifth desktop over-uses the device licence.
    Desktop(name="cad-005", pool=pool, state="ready").validated_save()
    rows = {r["metric"]: r for r in compliance().rows}
    assert rows["device"]["over_use"] == 1 and rows["device"]["other_use"] == {"vdi": 4}
    # Without the other sources (what VDI's own licence check asks): installations only.
    plain = {r["metric"]: r for r in compliance(other_use=False).rows}
    assert plain["device"]["used"] == 1 and plain["device"]["other_use"] == {}
    # The page and its CSV show the VDI column.
    admin = get_user_model().objects.create_superuser("root", password="pw")
    client.force_login(admin)
    page = client.get("/software/compliance/").content.decode()
    assert "<th>VDI</th>" in page and "<th>Installed</th>" in page
    header = client.get("/software/compliance/?format=csv").content.decode().splitlines()[0]
    assert header.startswith("name,product,metric,tenant,quantity,owned,installed,vdi,used,over_use")
