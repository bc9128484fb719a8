"""Pages of other apps are reachable from the UI: menu entries and CI detail panels."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from cmdb.dcim.models import Device
from cmdb.reconcile.models import CIDrift

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client: Any, superuser: Any) -> Any:
    client.force_login(superuser)
    return client


def test_menu_lists_automation_pages_for_a_user_who_may_view_them(admin_client: Any, grant: Any) -> None:
    page = admin_client.get("/").content.decode()
    for url in ("/reconcile/runs/", "/jobs/", "/jobs/schedules/", "/monitoring/incidents/", "/software/compliance/",
                "/services/impact/"):
        assert f'href="{url}"' in page
    viewer = grant("viewer", ["dcim.device"], ["view"])
    assert 'href="/reconcile/runs/"' not in viewer.get("/").content.decode()


def test_device_page_shows_its_drift(admin_client: Any, world: Any) -> None:
    device = Device.objects.order_by("pk").first()
    item = {"resource": "motd", "operation": "update", "diff": "-a\n+b"}
    CIDrift.objects.create(reconciler="ansible", ci_id=device.ci_id, status="drifted", drift_items=3,
                           checked=timezone.now(), items=[item])
    page = admin_client.get(f"/dcim/devices/{device.pk}/").content.decode()
    assert "Drift" in page and "3 changes needed" in page and "motd" in page
    other = Device.objects.order_by("pk").last()
    assert "No reconciler has checked this CI yet" in admin_client.get(f"/dcim/devices/{other.pk}/").content.decode()
