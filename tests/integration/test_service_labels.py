"""Metrics label each CI with the service that uses it (services app joined into monitoring)."""

from __future__ import annotations

from typing import Any

import pytest

from cmdb.services.models import Relationship, Service
from cmdb.services.relationships import ensure_builtin_types
from monitoring.selectors import service_by_ci

pytestmark = pytest.mark.django_db


def test_service_label_for_used_cis_and_the_service_itself(world: Any, api: Any) -> None:
    types = ensure_builtin_types()
    web01, web02, db01 = (world.devices[n] for n in ("web01", "web02", "db01"))
    portal = Service.objects.create(name="Web portal", slug="web-portal")
    mail = Service.objects.create(name="Mail", slug="mail")
    Relationship.objects.create(source=portal.ci, target=web01.ci, type=types["depends_on"])
    Relationship.objects.create(source=mail.ci, target=web01.ci, type=types["depends_on"])
    Relationship.objects.create(source=portal.ci, target=db01.ci, type=types["depends_on"])
    labels = service_by_ci()
    assert labels[web01.ci_id] == "Mail,Web portal"
    assert labels[db01.ci_id] == "Web portal" and labels[portal.ci_id] == "Web portal"
    assert web02.ci_id not in labels
    response = api.get("/metrics")
    body = b"".join(response.streaming_content).decode()
    line = next(x for x in body.splitlines() if x.startswith("cmdb_ci_info{") and f'ci_id="{db01.ci_id}"' in x)
    assert 'service="Web portal"' in line


def test_inventory_groups_hosts_by_the_service_that_uses_them(world: Any) -> None:
    from playbooks.inventory import build_inventory

    types = ensure_builtin_types()
    portal = Service.objects.create(name="Web portal", slug="web-portal")
    Relationship.objects.create(source=portal.ci, target=world.devices["web01"].ci, type=types["depends_on"])
    inv = build_inventory()
    group = next(name for name in inv if "web_portal" in name or "web-portal" in name)
    assert inv[group]["hosts"] == ["web01"]
    assert inv["_meta"]["hostvars"]["web01"]["cmdb"]["services"] == ["web-portal"]
