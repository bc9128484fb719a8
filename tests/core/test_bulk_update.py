"""objects_bulk_update: objects_update's validation, scope check and change records, with one UPDATE."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cmdb.core.context import change_logging
from cmdb.core.models import ObjectChange
from cmdb.core.services import BatchValidationError, objects_bulk_update
from cmdb.tenancy.models import Contact, Tenant
from cmdb.users.models import ObjectPermission

pytestmark = pytest.mark.django_db


def _contacts(n: int, tenant: Any = None) -> list[Contact]:
    out = []
    for i in range(n):
        c = Contact(name=f"Person {i}", email=f"p{i}@example.org", tenant=tenant)
        c.save()
        out.append(c)
    return out


def test_each_row_gets_its_values_and_one_change_record_with_its_before() -> None:
    contacts = _contacts(30)
    stamps = {c.pk: c.last_updated for c in contacts}
    with change_logging(source="test") as ctx:
        objects_bulk_update(contacts, [{"title": f"Title {i}", "phone": str(i)} for i in range(30)])
    rows = {c.pk: c for c in Contact.objects.all()}
    for i, c in enumerate(contacts):
        assert (rows[c.pk].title, rows[c.pk].phone) == (f"Title {i}", str(i))
        assert rows[c.pk].last_updated > stamps[c.pk]
    records = ObjectChange.objects.filter(request_id=ctx.request_id)
    assert records.count() == 30 and set(records.values_list("action", flat=True)) == {"update"}
    for record in records:
        assert record.prechange_data["title"] == "" and record.postchange_data["title"].startswith("Title ")
        assert record.postchange_data["email"] == record.prechange_data["email"]


def test_an_invalid_change_is_reported_by_position_and_nothing_is_written() -> None:
    contacts = _contacts(3)
    with pytest.raises(BatchValidationError) as caught, change_logging(source="test"):
        objects_bulk_update(contacts, [{"title": "ok"}, {"email": "not an address"}, {"title": "x" * 101}])
    errors = caught.value.errors
    assert errors[0] == {} and "email" in errors[1] and "title" in errors[2]
    assert set(Contact.objects.values_list("title", flat=True)) == {""}


def test_out_of_scope_rows_refuse_the_batch() -> None:
    mine, theirs = Tenant.objects.create(name="Mine", slug="mine"), Tenant.objects.create(name="Theirs", slug="theirs")
    user = get_user_model().objects.create_user("scoped", password="correct-horse-battery")
    perm = ObjectPermission.objects.create(name="mine", object_types=["*"], actions=["view", "change"])
    perm.users.add(user)
    perm.tenants.add(mine)
    contacts = [*_contacts(2, mine), Contact.objects.create(name="Other", tenant=theirs)]
    with pytest.raises(PermissionDenied), change_logging(user=user, source="test"):
        objects_bulk_update(contacts, [{"title": "changed"}] * 3, user=user)
    assert not Contact.objects.filter(title="changed").exists()


def test_the_queries_do_not_grow_with_the_rows() -> None:
    counts = []
    for n in (1, 10, 50):  # the first warms the caches (content types); 10 and 50 both past copyinsert.SMALL_ROWS
        contacts = [Contact.objects.create(name=f"Batch {n} {i}") for i in range(n)]
        with CaptureQueriesContext(connection) as ctx, change_logging(source="test"):
            objects_bulk_update(contacts, [{"title": "t"}] * n)
        counts.append(len(ctx.captured_queries))
    assert counts[1] == counts[2], counts


def test_cis_and_tags_are_refused() -> None:
    from tests import factories

    device = factories.device("srv-1")
    with pytest.raises(TypeError, match="registry"):
        objects_bulk_update([device], [{"description": "x"}])
    with pytest.raises(TypeError, match="tags"):
        objects_bulk_update(_contacts(1), [{"tags": []}])
