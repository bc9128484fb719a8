"""Incident list and detail pages: login required, tenant-scoped."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from cmdb.users.models import ObjectPermission
from monitoring.models import Incident

from . import factories

pytestmark = pytest.mark.django_db


def incident(ci: Any, name: str) -> Incident:
    obj = Incident(fingerprint=name, alertname=name, ci_id=ci.ci_id, started_at=timezone.now(), severity="warning",
                   summary=f"{name} summary", impacted_services=[{"ci_id": 1, "name": "E-Mail", "state": "down"}])
    obj.save()
    return obj


def test_pages_need_login(client: Any) -> None:
    response = client.get("/monitoring/incidents/")
    assert response.status_code == 302 and "login" in response["Location"]


def test_list_and_detail(client: Any, superuser: Any) -> None:
    land = factories.landscape(servers=1, switches=0, vms=0)
    one = incident(land.devices[0], "NodeDown")
    client.force_login(superuser)
    page = client.get("/monitoring/incidents/?status=open").content.decode()
    assert "NodeDown" in page and f"/monitoring/incidents/{one.pk}/" in page
    assert "NodeDown" not in client.get("/monitoring/incidents/?status=resolved").content.decode()
    detail = client.get(f"/monitoring/incidents/{one.pk}/").content.decode()
    assert "NodeDown summary" in detail and "E-Mail" in detail and "srv00" in detail
    assert client.get("/monitoring/incidents/999999/").status_code == 404


def test_other_tenants_incidents_are_hidden(client: Any, make_user: Any) -> None:
    land = factories.landscape(servers=2, switches=0, vms=0)
    rz, inf = incident(land.devices[0], "RzDown"), incident(land.devices[1], "InfDown")
    user = make_user("faculty")
    perm = ObjectPermission.objects.create(name="inf", object_types=["*"], actions=["view"])
    perm.users.add(user)
    perm.tenants.add(land.tenants["inf"])
    client.force_login(user)
    page = client.get("/monitoring/incidents/").content.decode()
    assert "InfDown" in page and "RzDown" not in page
    assert client.get(f"/monitoring/incidents/{rz.pk}/").status_code == 404
    assert client.get(f"/monitoring/incidents/{inf.pk}/").status_code == 200
