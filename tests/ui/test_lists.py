"""List pages: the API's filters, sorting, columns, pagination, export of exactly the filtered set,
and a constant number of queries whatever the page size."""

from __future__ import annotations

import csv
import io
import json

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cmdb.dcim.models import Device


def _names(response) -> list[str]:
    body = response.content.decode()
    table = body.split('id="object-list"', 1)[1].split("</table>", 1)[0]
    found = [(table.index(f">{n}</a>"), n) for n in ("web01", "web02", "db01", "sw01") if f">{n}</a>" in table]
    return [n for _pos, n in sorted(found)]


@pytest.mark.django_db
def test_filters_are_the_api_filter_set(admin_client, world):
    url = "/dcim/devices/"
    assert set(_names(admin_client.get(url))) == {"web01", "web02", "db01", "sw01"}
    assert _names(admin_client.get(f"{url}?site=zittau")) == ["web01", "web02"]
    assert _names(admin_client.get(f"{url}?status=planned")) == ["db01"]
    assert _names(admin_client.get(f"{url}?tag=red")) == ["web01", "web02"]
    assert _names(admin_client.get(f"{url}?q=SN-SW01")) == ["sw01"]
    assert _names(admin_client.get(f"{url}?site_id={world.goerlitz.pk}&role=switch")) == ["sw01"]


@pytest.mark.django_db
def test_bad_filter_value_is_a_message_not_a_500(admin_client, world):
    r = admin_client.get("/dcim/devices/?site=atlantis&status=bogus")
    assert r.status_code == 400
    body = r.content.decode()
    assert "atlantis" in body or "bogus" in body
    assert _names(r) == []


@pytest.mark.django_db
def test_sort_and_paginate(admin_client, world):
    r = admin_client.get("/dcim/devices/?sort=-name&per_page=2")
    assert _names(r) == ["web02", "web01"]
    body = r.content.decode()
    assert "Page 1 of 2" in body
    r = admin_client.get("/dcim/devices/?sort=-name&per_page=2&page=2")
    assert _names(r) == ["sw01", "db01"]
    # An unknown sort key is an error shown above an empty list (issue 14), not a silently unsorted list.
    r = admin_client.get("/dcim/devices/?sort=nonsense")
    assert r.status_code == 400
    assert "Cannot sort by" in r.content.decode() and _names(r) == []


@pytest.mark.django_db
def test_unknown_parameter_is_an_error_not_the_full_list(admin_client, world):
    r = admin_client.get("/dcim/devices/?sitee=zittau")
    assert r.status_code == 400
    body = r.content.decode()
    assert "sitee" in body and "Unknown parameter" in body
    assert _names(r) == []
    # The list page's own parameters, the API's filters and custom-field filters are known.
    r = admin_client.get("/dcim/devices/?site=zittau&page=1&per_page=25&sort=name&columns=name&has_primary_ip=true")
    assert r.status_code == 200 and _names(r) == ["web01"]
    # Export refuses it the same way.
    r = admin_client.get("/dcim/devices/export/?format=csv&sitee=zittau")
    assert r.status_code == 400 and b"sitee" in r.content


@pytest.mark.django_db
def test_columns_are_selectable_and_remembered(admin_client, world):
    r = admin_client.get("/dcim/devices/?columns=name&columns=asset_tag")
    head = r.content.decode().split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert "Asset tag" in head and "Serial" not in head
    r = admin_client.get("/dcim/devices/")  # remembered in the session
    head = r.content.decode().split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert "Asset tag" in head and "Serial" not in head


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "json", "yaml"])
def test_export_is_exactly_the_filtered_set(admin_client, world, fmt):
    r = admin_client.get(f"/dcim/devices/export/?site=zittau&format={fmt}&page=2&per_page=1")
    assert r.status_code == 200
    text = r.content.decode()
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
    elif fmt == "json":
        rows = json.loads(text)
    else:
        rows = yaml.safe_load(text)
    assert sorted(row["name"] for row in rows) == ["web01", "web02"]
    web01 = next(row for row in rows if row["name"] == "web01")
    assert web01["site"] == "zittau" and web01["rack"] == "R1"
    tags = web01["tags"] if fmt != "csv" else web01["tags"].split(",")
    assert sorted(tags) == ["blue", "red"]


@pytest.mark.django_db
def test_export_rejects_bad_filter_and_format(admin_client, world):
    assert admin_client.get("/dcim/devices/export/?format=xls").status_code == 400
    assert admin_client.get("/dcim/devices/export/?site=atlantis").status_code == 400


def _count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_device_list_query_count_is_constant(admin_client, world):
    from tests.factories import device

    all_columns = "&".join(f"columns={c}" for c in
                           ["name", "status", "tenant", "site", "location", "rack", "role", "device_type",
                            "manufacturer", "platform", "serial", "cluster", "primary_ip4", "owner", "tags"])
    url = f"/dcim/devices/?per_page=100&{all_columns}"
    # Every relation shown is set on at least one row from the start (a relation that is null on
    # every row of a page costs no prefetch query at all).
    Device.objects.filter(pk=world.devices["web01"].pk).update(cluster=world.cluster)
    admin_client.get(url)  # warm caches (content types, session)
    small = _count_queries(admin_client, url)
    for i in range(40):
        d = device(f"bulk{i:02d}", at=world.zittau, dtype=world.r650, as_role=world.server, tenant=world.tenant_a,
                   platform=world.debian, cluster=world.cluster)
        d.tags.set([world.tags["red"]])
    assert Device.objects.count() == 44
    assert _count_queries(admin_client, url) == small
    assert small <= 25


@pytest.mark.django_db
def test_list_query_count_constant_for_a_tenant_scoped_user(grant, world, django_assert_max_num_queries):
    from tests.factories import device

    c = grant("faculty", ["dcim.device", "dcim.site", "dcim.rack", "tenancy.tenant", "dcim.devicerole",
                          "dcim.manufacturer", "dcim.devicetype", "dcim.platform", "dcim.location",
                          "virtualization.cluster"], ["view"], tenants=[world.tenant_a])
    c.get("/dcim/devices/")
    before = _count_queries(c, "/dcim/devices/?per_page=100")
    for i in range(30):
        device(f"t{i:02d}", at=world.zittau, dtype=world.r650, as_role=world.server, tenant=world.tenant_a)
    with django_assert_max_num_queries(before):
        c.get("/dcim/devices/?per_page=100")


@pytest.mark.django_db
def test_cells_are_escaped_once(admin_client, world):
    from cmdb.extras.models import Tag

    evil = Tag.objects.create(name="<b>x</b>", slug="evil")
    world.devices["web01"].tags.add(evil)
    Device.objects.filter(pk=world.devices["web01"].pk).update(description="<script>alert(1)</script>")
    url = "/dcim/devices/?columns=name&columns=description&columns=tags"
    body = admin_client.get(url).content.decode()
    assert '<span class="tag">Red</span>' in body  # tag markup rendered, not shown as text
    assert "&lt;b&gt;x&lt;/b&gt;" in body and "<b>x</b>" not in body
    assert "<script>alert(1)</script>" not in body
    detail = admin_client.get(f"/dcim/devices/{world.devices['web01'].pk}/").content.decode()
    assert "<script>alert(1)</script>" not in detail and '<span class="tag">Red</span>' in detail
