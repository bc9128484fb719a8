"""The COPY insert path behaves like ``bulk_create``: ids, values, errors.

Every test runs twice on PostgreSQL: through one ``INSERT ... VALUES`` (small batches) and
through COPY (larger ones).  On SQLite the module falls back to ``bulk_create``; the same
assertions hold there.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from cmdb.core import copyinsert
from cmdb.core.models.registry import ConfigurationItem
from cmdb.dcim.models import Manufacturer, Site
from cmdb.extras.models import Tag
from cmdb.tenancy.models import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["values", "copy"], autouse=True)
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(copyinsert, "SMALL_ROWS", 1000 if request.param == "values" else 0)
    return request.param


def test_ids_given_by_the_caller_are_used() -> None:
    ids = copyinsert.draw_ids(Tag, 3) if copyinsert._copy_possible(Tag, 3) else [901, 902, 903]
    tags = copyinsert.insert(Tag, [Tag(name=f"g{i}", slug=f"g{i}", color="00ff00") for i in range(3)], ids=ids)
    assert [t.pk for t in tags] == list(ids)
    assert dict(Tag.objects.filter(pk__in=ids).values_list("pk", "slug")) == {ids[i]: f"g{i}" for i in range(3)}
    with pytest.raises(ValueError, match="2 ids for 3 objects"):
        copyinsert.insert(Tag, [Tag(name=f"h{i}", slug=f"h{i}") for i in range(3)], ids=ids[:2])


def test_ids_ascend_in_the_given_order_and_rows_read_back() -> None:
    tags = [Tag(name=f"t{i}", slug=f"t{i}", color="00ff00") for i in range(5)]
    copyinsert.insert(Tag, tags)
    ids = [t.pk for t in tags]
    assert all(isinstance(i, int) for i in ids) and ids == sorted(ids)
    stored = dict(Tag.objects.values_list("pk", "name"))
    assert [stored[i] for i in ids] == [f"t{i}" for i in range(5)]
    assert all(not t._state.adding for t in tags)


def test_json_text_numbers_and_foreign_keys_round_trip() -> None:
    tenant = Tenant.objects.create(name="T", slug="t")
    big = 2**70  # beyond orjson: must take Django's path, not fail
    sites = [
        Site(name="A", slug="a", tenant=tenant, custom_field_data={"x": [1, "ü", None, 1.5], "big": big}),
        Site(name="B", slug="b", tenant_id=tenant.pk, custom_field_data={}),
    ]
    copyinsert.insert(Site, sites)
    a, b = Site.objects.order_by("name")
    assert a.custom_field_data == {"x": [1, "ü", None, 1.5], "big": big}
    assert a.tenant_id == tenant.pk and b.tenant_id == tenant.pk
    assert a.created is not None and a.created.tzinfo is not None  # auto_now_add applied


@pytest.mark.filterwarnings("ignore:DateTimeField .* received a naive datetime")
def test_naive_datetime_is_made_aware_like_bulk_create() -> None:
    naive = dt.datetime(2026, 1, 2, 3, 4, 5)
    aware = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    cis = [ConfigurationItem(kind="dcim.device", name=n, last_seen=t) for n, t in (("a", naive), ("b", aware))]
    copyinsert.insert(ConfigurationItem, cis)
    stored = dict(ConfigurationItem.objects.values_list("name", "last_seen"))
    assert stored["a"] == timezone.make_aware(naive) and stored["b"] == aware


def test_unique_violation_is_an_integrity_error_and_writes_nothing() -> None:
    Manufacturer.objects.create(name="Dell", slug="dell")
    with pytest.raises(IntegrityError), transaction.atomic():
        copyinsert.insert(Manufacturer, [Manufacturer(name="HPE", slug="hpe"), Manufacturer(name="Dell", slug="dell2")])
    assert list(Manufacturer.objects.values_list("slug", flat=True)) == ["dell"]
