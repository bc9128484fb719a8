"""VDI pages: the pool's week, the desktops list, the capacity page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from cmdb.ui.registry import object_url
from vdi.models import Desktop, PoolScheduleRule
from vdi.ui import week

from .conftest import at, make_pool

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(superuser):
    client = Client()
    client.force_login(superuser)
    return client


def test_the_pool_page_draws_its_week(vdi_world, web):
    pool = make_pool(vdi_world, "lab", min_size=1, max_size=12)
    PoolScheduleRule(pool=pool, weekday=2, start=dt.time(9), end=dt.time(11), size=12).validated_save()
    grid = week(pool, at(0, 12))
    assert grid[9][2] == grid[10][2] == 12 and grid[11][2] == 1 and grid[9][1] == 1
    r = web.get(object_url(pool, pool.pk))
    assert r.status_code == 200
    assert b"Schedule this week" in r.content and b'title="12"' in r.content


def test_desktops_and_capacity_pages(vdi_world, web, make_user):
    pool = make_pool(vdi_world, "lab", min_size=2, vcpus=4)
    Desktop(name="lab-001", pool=pool, state="ready").save()
    assert b"lab-001" in web.get("/vdi/desktops/").content
    r = web.get("/vdi/capacity/")
    assert r.status_code == 200
    assert b"vdi-zittau" in r.content and b"128 vCPUs" in r.content
    other = Client()
    other.force_login(make_user("nobody"))
    assert b"vdi-zittau" not in other.get("/vdi/capacity/").content
