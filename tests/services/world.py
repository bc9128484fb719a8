"""One object of every software/services model on top of the API test world (for the UI page tests)."""

from __future__ import annotations

from typing import Any


def add_software_and_services(world: Any) -> None:
    from cmdb.services.models import RedundancyGroup, RedundancyMember, Relationship, Service
    from cmdb.services.relationships import ensure_builtin_types
    from cmdb.software.models import (
        License,
        LicenseAssignment,
        SoftwareInstallation,
        SoftwareProduct,
        SoftwareVersion,
    )

    types = ensure_builtin_types()
    web01, web02 = world.devices["web01"], world.devices["web02"]
    product = SoftwareProduct.objects.create(vendor="Debian", name="openssl", slug="openssl", version_scheme="debian")
    version = SoftwareVersion.objects.create(product=product, version="3.0.11-1~deb12u2")
    SoftwareInstallation.objects.create(ci=web01.ci, version=version, source="ansible")
    pool = License.objects.create(name="Antivirus campus", product=product, metric="device", quantity=10)
    LicenseAssignment.objects.create(license=pool, ci=web02.ci, description="spare seat")
    service = Service.objects.create(name="Web portal", slug="web-portal", sla_availability="99.5")
    group = RedundancyGroup.objects.create(name="web pair", min_up=1)
    RedundancyMember.objects.create(group=group, ci=web01.ci)
    Relationship.objects.create(source=service.ci, target=group.ci, type=types["depends_on"])
