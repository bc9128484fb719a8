"""License compliance per metric: owned vs used, over-use, unused seats, expiry, pooling, cost per tenant."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User

from cmdb.core.models.registry import ConfigurationItem
from cmdb.software.compliance import compliance
from cmdb.software.models import (
    License,
    LicenseAssignment,
    SoftwareInstallation,
    SoftwareProduct,
    SoftwareVersion,
)
from cmdb.tenancy.models import Tenant
from tests import factories as f

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 6, 1)


def product(slug: str) -> SoftwareVersion:
    p = SoftwareProduct.objects.create(vendor="Vendor", name=slug, slug=slug)
    return SoftwareVersion.objects.create(product=p, version="1.0")


def install(version: SoftwareVersion, cis: list[ConfigurationItem]) -> None:
    SoftwareInstallation.objects.bulk_create(
        [SoftwareInstallation(ci=ci, version=version, product_id=version.product_id) for ci in cis])


def cis(n: int, tenant: Tenant | None = None, prefix: str = "pc") -> list[ConfigurationItem]:
    return [ConfigurationItem.objects.create(kind="dcim.device", name=f"{prefix}{i}", tenant=tenant) for i in range(n)]


def lic(name: str, version: SoftwareVersion, metric: str, quantity: int, **extra) -> License:
    return License.objects.create(name=name, product=version.product, metric=metric, quantity=quantity, **extra)


def rows() -> dict[str, dict]:
    return {r["name"]: r for r in compliance(today=TODAY).rows}


def test_per_device_over_use_and_unused_seats() -> None:
    av, cad = product("antivirus"), product("cad")
    install(av, cis(12))
    install(cad, cis(3, prefix="cad"))
    lic("AV campus", av, "device", 10, cost=Decimal("1000"))
    lic("CAD seats", cad, "device", 5)
    r = rows()
    assert r["AV campus"]["used"] == 12 and r["AV campus"]["over_use"] == 2 and r["AV campus"]["status"] == "over-use"
    assert r["CAD seats"]["used"] == 3 and r["CAD seats"]["unused"] == 2 and "unused-seats" in r["CAD seats"]["flags"]


def test_two_versions_on_one_device_use_one_seat_and_assigned_cis_hold_seats() -> None:
    v1 = product("office")
    v2 = SoftwareVersion.objects.create(product=v1.product, version="2.0")
    machines = cis(2)
    install(v1, machines)
    install(v2, machines[:1])
    spare = ConfigurationItem.objects.create(kind="dcim.device", name="spare")
    pool = lic("Office", v1, "device", 5)
    LicenseAssignment.objects.create(license=pool, ci=spare)
    LicenseAssignment.objects.create(license=pool, ci=machines[0])  # installed too: not counted twice
    assert rows()["Office"]["used"] == 3


def test_per_core_counts_vm_vcpus_and_device_cores() -> None:
    w = f.world()
    db = product("oracle")
    w.devices["db01"].custom_field_data = {"cores": 16}
    w.devices["db01"].save()
    install(db, [w.vms["vm-a"].ci, w.vms["vm-b"].ci, w.devices["db01"].ci, w.devices["web02"].ci])
    lic("Oracle EE", db, "core", 20)
    r = rows()["Oracle EE"]
    assert r["used"] == 2 + 4 + 16 + 1  # VM vCPUs, device cores field, unknown device = 1
    assert r["over_use"] == 3


def test_per_user_counts_users_and_group_members_once() -> None:
    office = product("m365")
    pool = lic("M365 staff", office, "user", 3)
    users = [User.objects.create_user(f"u{i}") for i in range(4)]
    staff = Group.objects.create(name="staff")
    staff.user_set.add(users[1], users[2], users[3])
    LicenseAssignment.objects.create(license=pool, user=users[0])
    LicenseAssignment.objects.create(license=pool, user=users[1])  # also in the group
    LicenseAssignment.objects.create(license=pool, group=staff)
    r = rows()["M365 staff"]
    assert r["used"] == 4 and r["over_use"] == 1


def test_subscription_concurrent_and_site() -> None:
    spss, matlab, stats = product("spss"), product("matlab"), product("stata")
    install(matlab, cis(30, prefix="lab"))
    install(stats, cis(500, prefix="st"))
    sub = lic("SPSS sub", spss, "subscription", 10, end_date=TODAY + dt.timedelta(days=10))
    LicenseAssignment.objects.create(license=sub, user=User.objects.create_user("prof"))
    lic("Matlab network", matlab, "concurrent", 25, peak_usage=27)
    lic("Matlab estimate", product("matlab-toolbox"), "concurrent", 5)
    lic("Stata site", stats, "site", 1)
    r = rows()
    assert r["SPSS sub"]["used"] == 1 and r["SPSS sub"]["status"] == "expiring"
    assert r["SPSS sub"]["days_to_expiry"] == 10
    assert r["Matlab network"]["used"] == 27 and r["Matlab network"]["over_use"] == 2
    assert r["Matlab estimate"]["used"] == 0 and "estimated" in r["Matlab estimate"]["note"]
    assert r["Stata site"]["owned"] is None and r["Stata site"]["used"] == 500 and r["Stata site"]["over_use"] == 0


def test_expired_pool_holds_nothing_and_expiry_windows() -> None:
    av = product("av")
    install(av, cis(4))
    lic("AV old", av, "device", 10, end_date=TODAY - dt.timedelta(days=1))
    r = rows()["AV old"]
    assert r["owned"] == 0 and r["used"] == 4 and r["over_use"] == 4 and "expired" in r["flags"]
    lic("AV 40 days", product("av2"), "device", 1, end_date=TODAY + dt.timedelta(days=40))
    assert compliance(today=TODAY).summary()["expiring"] == 0
    assert compliance(today=TODAY, expiring_days=60).summary()["expiring"] == 1


def test_pools_per_tenant_then_shared_and_cost_per_tenant() -> None:
    cs, math_ = Tenant.objects.create(name="CS", slug="cs"), Tenant.objects.create(name="Math", slug="math")
    cad = product("cad")
    install(cad, cis(6, tenant=cs, prefix="cs") + cis(3, tenant=math_, prefix="m") + cis(2, prefix="x"))
    lic("CAD CS", cad, "device", 4, tenant=cs, cost=Decimal("400"))
    lic("CAD shared", cad, "device", 5, cost=Decimal("500"))
    report = compliance(today=TODAY)
    r = {x["name"]: x for x in report.rows}
    assert r["CAD CS"]["used"] == 4  # full: its overflow of 2 goes to the shared pool
    assert r["CAD shared"]["used"] == 5 + 2 and r["CAD shared"]["over_use"] == 2
    costs = {c["tenant"]: c["cost"] for c in report.cost_per_tenant}
    assert costs == {"CS": 400.0, "(shared)": 500.0}
    # A tenant with installations but no pool of its own and no shared pool is unlicensed.
    other = product("other")
    install(other, cis(2, tenant=math_, prefix="o"))
    lic("Other CS", other, "device", 10, tenant=cs)
    unlicensed = compliance(today=TODAY).unlicensed
    assert [(u["product"], u["tenant"], u["demand"]) for u in unlicensed] == [("Vendor other", "Math", 2)]


def test_report_uses_a_constant_number_of_queries(django_assert_max_num_queries) -> None:
    for i in range(8):
        v = product(f"p{i}")
        install(v, cis(5, prefix=f"p{i}-"))
        lic(f"L{i}", v, ["device", "core", "user", "concurrent"][i % 4], 3)
    with django_assert_max_num_queries(10):
        compliance(today=TODAY)
