"""The change log is append-only and hash-chained: verify() finds the first row that was tampered with.

Tampering is done as an attacker with database access would: raw SQL.  On PostgreSQL each test
first shows that the append-only trigger refuses the statement, then disables the trigger (the
test database user is a superuser) to show that verify() still catches the edit.  The tests
branch on the database vendor instead of skipping, so every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from cmdb.core import bulk, changelog, erasure
from cmdb.core.context import change_logging
from cmdb.core.models import ObjectChange
from cmdb.dcim.models import Site
from cmdb.extras.models import Tag

pytestmark = pytest.mark.django_db


def raw(sql: str, params: tuple | list = ()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def refused(sql: str, params: tuple | list = ()) -> bool:
    """Whether the database refuses the statement (only PostgreSQL has the trigger)."""
    try:
        with transaction.atomic():
            raw(sql, params)
    except DatabaseError as exc:
        assert "core_objectchange" in str(exc)
        return True
    return False


def tamper(sql: str, params: tuple | list = (), *, trigger_refuses: bool = True) -> None:
    """Edit the change log behind the application's back.

    On PostgreSQL, when ``trigger_refuses``, first prove the append-only triggers refuse the
    statement, then run it with them disabled (restored afterwards; the test's transaction
    rolls the ALTER back anyway).
    """
    if connection.vendor == "postgresql" and trigger_refuses:
        assert refused(sql, params), f"the append-only trigger let this through: {sql}"
        raw("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE refuses while deferred FK checks are pending
        raw("ALTER TABLE core_objectchange DISABLE TRIGGER USER")
        try:
            raw(sql, params)
        finally:
            raw("ALTER TABLE core_objectchange ENABLE TRIGGER USER")
    else:
        raw(sql, params)


@pytest.fixture
def chain(make_user) -> list[int]:
    """About 30 change records of all three actions, by several paths; returns their ids in order."""
    user = make_user("operator")
    with change_logging(user=user, source="cli"):
        sites = [Site(name=f"Site {i}", slug=f"site-{i}") for i in range(10)]
        for s in sites:
            s.save()
    for s in sites[:5]:
        s.description = f"described {s.pk}"
        s.save()
    bulk.bulk_create(Tag, [Tag(name=f"T{i}", slug=f"t{i}") for i in range(10)])
    for s in sites[5:8]:
        s.delete()
    ids = list(ObjectChange.objects.order_by("id").values_list("id", flat=True))
    assert len(ids) >= 28
    assert changelog.verify().ok
    return ids


def test_fresh_chain_of_many_records_verifies(make_user):
    user = make_user("importer")
    # More than one batch of verify()'s walk (2000 rows), appended in one go inside a context...
    with change_logging(user=user, source="import"):
        bulk.bulk_create(Tag, [Tag(name=f"Tag {i}", slug=f"tag-{i}") for i in range(2100)])
    # ...and one by one outside any context.
    for i in range(5):
        Site(name=f"Site {i}", slug=f"site-{i}").save()
    total = ObjectChange.objects.count()
    assert total == 2105
    result = changelog.verify()
    assert result.ok, result.reason
    assert result.checked == total
    rows = list(ObjectChange.objects.order_by("id"))
    assert rows[0].prev_hash == changelog.GENESIS
    assert all(b.prev_hash == a.chain_hash for a, b in itertools.pairwise(rows))
    assert len({r.chain_hash for r in rows}) == total


def test_empty_chain_verifies():
    result = changelog.verify()
    assert result.ok and result.checked == 0


def test_altered_postchange_data_is_detected(chain):
    victim = chain[12]
    tamper("UPDATE core_objectchange SET postchange_data = %s WHERE id = %s",
           [json.dumps({"name": "forged"}), victim])
    result = changelog.verify()
    assert not result.ok
    assert result.broken_id == victim
    assert result.checked == chain.index(victim)
    assert "data differs" in result.reason


def test_altered_user_name_is_detected(chain):
    victim = chain[3]
    tamper("UPDATE core_objectchange SET user_name = %s WHERE id = %s", ["somebody-else", victim])
    result = changelog.verify()
    assert result.broken_id == victim
    assert "data differs" in result.reason


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("time", dt.datetime(2020, 1, 1, 12, 0, tzinfo=dt.UTC)),
        ("action", "delete"),
        ("changed_object_id", 999999),
        ("source", "api"),
    ],
)
def test_altered_chain_column_is_detected(chain, column, value):
    victim = chain[7]
    tamper(f"UPDATE core_objectchange SET {column} = %s WHERE id = %s", [value, victim])  # noqa: S608
    result = changelog.verify()
    assert not result.ok
    assert result.broken_id == victim
    assert "row hash does not match" in result.reason


def test_deleted_row_in_the_middle_is_detected(chain):
    victim = chain[10]
    tamper("DELETE FROM core_objectchange WHERE id = %s", [victim])
    assert not ObjectChange.objects.filter(pk=victim).exists()
    result = changelog.verify()
    assert result.broken_id == chain[11]
    assert result.checked == 10
    assert "previous-hash link" in result.reason


def test_reordered_rows_are_detected(chain):
    a, b = chain[5], chain[6]
    # Swap the ids of two neighbours (the trigger refuses renumbering; tamper() goes around it).
    tamper("UPDATE core_objectchange SET id = %s WHERE id = %s", [-a, a])
    tamper("UPDATE core_objectchange SET id = %s WHERE id = %s", [a, b])
    tamper("UPDATE core_objectchange SET id = %s WHERE id = %s", [b, -a])
    result = changelog.verify()
    assert result.broken_id == a
    assert "previous-hash link" in result.reason


def test_inserted_row_is_detected(chain):
    k = chain[8]
    after = chain[9:]
    # Make room after row k, then insert a forged row that links correctly to row k: even a forger
    # who knows the algorithm and holds the audit key is exposed by the next row.
    tamper("UPDATE core_objectchange SET id = id + 1000 WHERE id > %s", [k])
    template = ObjectChange.objects.get(pk=k)
    forged = ObjectChange(
        id=k + 1, time=template.time, user_name="intruder", request_id=template.request_id, source="cli",
        action="delete", changed_object_type_id=template.changed_object_type_id,
        changed_object_id=template.changed_object_id, object_repr="forged", prechange_data={"name": "x"},
        salt="0" * 32,
    )
    forged.key_version, key = changelog.current_key()
    forged.data_digest = changelog.data_digest(forged.salt, forged, key)
    forged.prev_hash = template.chain_hash
    forged.chain_hash = changelog.link_hash(template.chain_hash, forged, key)
    ObjectChange.objects.bulk_create([forged])
    result = changelog.verify()
    assert not result.ok
    assert result.broken_id == after[0] + 1000
    assert result.checked == chain.index(k) + 2
    assert "previous-hash link" in result.reason


def test_forged_data_behind_the_erased_flag_is_detected(chain):
    victim = chain[4]
    # Claiming an erasure must not be a way to rewrite a record: the trigger refuses it, and with
    # the trigger disabled verify() itself insists that an erased record carries no data.
    tamper("UPDATE core_objectchange SET erased = %s, postchange_data = %s WHERE id = %s",
           [True, json.dumps({"name": "forged"}), victim])
    result = changelog.verify()
    assert result.broken_id == victim
    assert "erased" in result.reason


def test_erasing_personal_data_keeps_the_chain_valid(chain):
    victims = chain[2:6]
    user_ids = dict(ObjectChange.objects.filter(pk__in=victims).values_list("pk", "user_id"))
    done = erasure.changes_erase(target=erasure.resolve_target(records=victims), reason="data-protection request")
    assert done.erased == victims
    for rec in ObjectChange.objects.filter(pk__in=victims):
        assert rec.erased
        # The name goes; the account id stays, because the chain covers it (it is not personal data
        # once the account itself is deleted).
        assert rec.user_name == "" and rec.user_id == user_ids[rec.pk]
        assert rec.prechange_data is None and rec.postchange_data is None
        assert rec.object_repr == "[erased]"
    untouched = ObjectChange.objects.get(pk=chain[0])
    assert untouched.user_name == "operator" and untouched.postchange_data is not None
    result = changelog.verify()
    assert result.ok, result.reason
    assert result.checked == len(chain) + 1  # and the erasure record
    assert result.erased == len(victims) and result.erasures == 1
    # Un-erasing (flag cleared, data not restored) is a tamper like any other.
    tamper("UPDATE core_objectchange SET erased = %s WHERE id = %s", [False, victims[0]])
    assert changelog.verify().broken_id == victims[0]


def test_deleting_a_user_keeps_the_chain_valid(make_user):
    temp = make_user("temp")
    temp_id = temp.pk
    with change_logging(user=temp, source="cli"):
        Site(name="Zittau", slug="zittau").save()
    temp.delete()
    rec = ObjectChange.objects.get(changed_object_id=Site.objects.get().pk)
    # The record keeps naming the deleted account: its id is part of the chain.
    assert rec.user_id == temp_id and rec.user_name == "temp"
    assert changelog.verify().ok


def test_append_only_in_the_orm_and_in_postgresql(chain):
    rec = ObjectChange.objects.get(pk=chain[1])
    rec.object_repr = "changed"
    with pytest.raises(PermissionError):
        rec.save()
    with pytest.raises(PermissionError):
        rec.delete()
    if connection.vendor == "postgresql":
        victim = chain[1]
        statements = [
            ("DELETE FROM core_objectchange WHERE id = %s", [victim]),
            ("UPDATE core_objectchange SET chain_hash = %s WHERE id = %s", ["f" * 64, victim]),
            ("UPDATE core_objectchange SET prev_hash = %s WHERE id = %s", ["f" * 64, victim]),
            ("UPDATE core_objectchange SET time = %s WHERE id = %s", [dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
                                                                        victim]),
            ("UPDATE core_objectchange SET object_repr = %s WHERE id = %s", ["changed", victim]),
            ("UPDATE core_objectchange SET prechange_data = %s WHERE id = %s", ['{"a": 1}', victim]),
        ]
        for sql, params in statements:
            assert refused(sql, params), sql
        # The whole table at once, too.
        assert refused("DELETE FROM core_objectchange")
    else:
        assert connection.vendor == "sqlite"
    assert ObjectChange.objects.filter(pk=chain[1]).exists()
    assert ObjectChange.objects.get(pk=chain[1]).object_repr != "changed"
    assert changelog.verify().ok


def test_audit_verify_command_reports_intact_chain(chain):
    out = StringIO()
    call_command("audit", "verify", "--quiet", stdout=out, stderr=StringIO())
    assert "intact" in out.getvalue()
    assert str(len(chain)) in out.getvalue()


def test_audit_verify_command_fails_naming_the_broken_id(chain):
    victim = chain[12]  # an update record
    tamper("UPDATE core_objectchange SET action = %s WHERE id = %s", ["create", victim])
    out = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("audit", "verify", stdout=out, stderr=StringIO())
    assert f"#{victim}" in str(excinfo.value)
    assert "BROKEN" in str(excinfo.value)
    assert "intact" not in out.getvalue()


def test_altered_related_object_is_detected(chain):
    victim = chain[0]
    tamper("UPDATE core_objectchange SET related_object_id = %s WHERE id = %s", [424242, victim])
    assert changelog.verify().broken_id == victim


def test_reattributed_user_is_detected(chain, make_user):
    other = make_user("scapegoat")
    victim = chain[0]
    tamper("UPDATE core_objectchange SET user_id = %s WHERE id = %s", [other.pk, victim])
    assert changelog.verify().broken_id == victim
