"""Dashboard and welcome page: counts with links into filtered lists, recent changes, stale CIs."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cmdb.core.context import change_logging
from cmdb.core.models import ConfigurationItem
from cmdb.core.services import objects_update


@pytest.mark.django_db
def test_welcome_page_for_anonymous(client):
    body = client.get("/").content.decode()
    assert 'href="/login/"' in body and 'href="/api/"' in body


@pytest.mark.django_db
def test_dashboard_counts_link_into_filtered_lists(admin_client, world):
    d = world.devices["sw01"]
    ConfigurationItem.objects.filter(pk=d.ci_id).update(last_seen=timezone.now() - dt.timedelta(days=90))
    with change_logging(user=None, source="test"):
        objects_update([world.devices["web02"]], [{"description": "renamed backend"}])
    body = admin_client.get("/").content.decode()
    by_kind = body.split("By kind", 1)[1].split("</section>", 1)[0]
    assert 'href="/dcim/devices/"' in by_kind and '<span class="n">4</span>' in by_kind
    by_site = body.split("Devices by site", 1)[1].split("</section>", 1)[0]
    assert f'href="/dcim/devices/?site_id={world.zittau.pk}"' in by_site
    by_status = body.split("By status", 1)[1].split("</section>", 1)[0]
    assert 'href="/core/configuration-items/?status=planned"' in by_status
    recent = body.split("Recently changed", 1)[1].split("</section>", 1)[0]
    assert f'href="/dcim/devices/{world.devices["web02"].pk}/"' in recent
    stale = body.split("Stale CIs", 1)[1].split("</section>", 1)[0]
    assert "sw01" in stale and "web01" not in stale
    # The linked filtered lists work.
    assert "db01" in admin_client.get("/core/configuration-items/?status=planned").content.decode()
