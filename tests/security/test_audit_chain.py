"""The change log against an attacker with database access.

The attacker writes SQL directly.  On PostgreSQL each attack first shows that the triggers
refuse it, then does what a superuser would: ``ALTER TABLE ... DISABLE TRIGGER USER``.  On
SQLite (no trigger) the same statements run directly.  Every test branches on the vendor
instead of skipping, so the whole file runs on both databases.

What must hold: a rewritten record with the rest of the chain recomputed (plain SHA-256 or a
wrong key) is named by ``cmdb audit verify``; a deleted tail is reported against the latest
checkpoint; ``erased`` set by hand is refused or detected; a proper erasure verifies and is
listed; rotated keys verify, a removed one is reported; checkpoints reach the file and syslog.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import itertools
import json
import socket
import stat
import threading
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from rest_framework.test import APIClient

from cmdb.core import auditkeys, changelog, checkpoints, erasure
from cmdb.core.choices import ChangeAction
from cmdb.core.context import change_logging
from cmdb.core.models import ObjectChange
from cmdb.dcim.models import Site
from cmdb.tenancy.models import Contact
from tests import factories

pytestmark = pytest.mark.django_db

KEY_1 = b"1" * 40
KEY_2 = b"2" * 40
WRONG_KEY = b"attacker-" * 5


# --- the attacker's tools -----------------------------------------------------------------


def sql(statement: str, params: list[Any] | tuple[Any, ...] = ()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def refused(statement: str, params: list[Any] | tuple[Any, ...] = (), *, setup: str = "") -> str | None:
    """The database's refusal message, or None if it ran the statement (only PostgreSQL has triggers)."""
    try:
        with transaction.atomic():
            if setup:
                sql(setup)
            sql(statement, params)
    except DatabaseError as exc:
        return str(exc)
    return None


@contextlib.contextmanager
def triggers_off() -> Iterator[None]:
    """What a database superuser does first (PostgreSQL); SQLite has nothing to switch off."""
    if connection.vendor != "postgresql":
        yield
        return
    sql("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE refuses while deferred FK checks are pending
    sql("ALTER TABLE core_objectchange DISABLE TRIGGER USER")
    try:
        yield
    finally:
        sql("ALTER TABLE core_objectchange ENABLE TRIGGER USER")


def recompute_chain(from_id: int, *, key: bytes | None, version: int, edit: dict[str, Any] | None = None) -> None:
    """Rewrite record ``from_id`` (``edit``) and recompute its and every later record's digest and hashes.

    ``key=None``: the legacy algorithm (plain SHA-256), which anyone can compute; otherwise HMAC
    under ``key`` — the attacker's, since the real key is not in the database.
    """
    prev = (ObjectChange.objects.filter(id__lt=from_id).order_by("-id").values_list("chain_hash", flat=True).first()
            or changelog.GENESIS)
    rows = list(ObjectChange.objects.filter(id__gte=from_id).order_by("id"))
    with triggers_off():
        for row in rows:
            for name, value in (edit or {}).items() if row.id == from_id else ():
                setattr(row, name, value)
            row.key_version = version
            row.data_digest = changelog.data_digest(row.salt, row, key)
            row.prev_hash = prev
            row.chain_hash = changelog.link_hash(prev, row, key)
            prev = row.chain_hash
            sql("UPDATE core_objectchange SET user_name = %s, object_repr = %s, postchange_data = %s, "
                "data_digest = %s, prev_hash = %s, chain_hash = %s, key_version = %s WHERE id = %s",
                [row.user_name, row.object_repr, json.dumps(row.postchange_data), row.data_digest, row.prev_hash,
                 row.chain_hash, row.key_version, row.id])


def verify_command() -> tuple[str, str]:
    """``cmdb audit verify``: (stdout, error); error is "" when it exits 0."""
    out = StringIO()
    try:
        call_command("audit", "verify", "--quiet", stdout=out, stderr=StringIO())
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), ""


# --- the world ------------------------------------------------------------------------------


@pytest.fixture
def keys(settings: Any) -> dict[int, bytes]:
    settings.AUDIT_KEYS = {1: KEY_1}
    return settings.AUDIT_KEYS


@pytest.fixture
def chain(keys: dict[int, bytes], make_user: Any) -> list[int]:
    """About 25 keyed change records (creates, updates, deletes) and a checkpoint of their head."""
    operator = make_user("operator")
    with change_logging(user=operator, source="api"):
        sites = [Site(name=f"Site {i}", slug=f"site-{i}") for i in range(12)]
        for s in sites:
            s.save()
    for s in sites[:8]:
        with change_logging(user=operator, source="api"):
            s.description = f"rack room {s.pk}"
            s.save()
    for s in sites[8:11]:
        with change_logging(user=operator, source="api"):
            s.delete()
    ids = list(ObjectChange.objects.order_by("id").values_list("id", flat=True))
    assert len(ids) == 23
    assert set(ObjectChange.objects.values_list("key_version", flat=True)) == {1}
    report = checkpoints.checkpoint_write(reason="test")
    assert report.written and not report.failed
    assert changelog.verify().ok
    return ids


# --- (a) rewrite one record and recompute the rest ----------------------------------------------


@pytest.mark.parametrize(("key", "version", "expected"), [
    # Plain SHA-256, claiming the legacy scheme: every row is consistent with the one before...
    (None, 0, "legacy unkeyed scheme"),
    # ...or plain SHA-256 with the key version left in place...
    (None, 1, "data differs from its digest"),
    # ...or HMAC under a key of the attacker's: none of them passes.
    (WRONG_KEY, 1, "data differs from its digest"),
], ids=["sha256-as-legacy", "sha256", "wrong-key"])
def test_rewritten_record_with_recomputed_chain_is_named(chain: list[int], key: bytes | None, version: int,
                                                         expected: str) -> None:
    victim = chain[9]  # an update: a site's description
    if connection.vendor == "postgresql":
        assert "payload may only change by erasure" in (refused(
            "UPDATE core_objectchange SET postchange_data = %s WHERE id = %s",
            [json.dumps({"description": "forged"}), victim]) or "")
    recompute_chain(victim, key=key, version=version, edit={"postchange_data": {"description": "forged"}})
    rows = list(ObjectChange.objects.filter(id__gte=victim).order_by("id"))
    # The forged chain is internally consistent: the link check alone would pass it.
    assert all(b.prev_hash == a.chain_hash for a, b in itertools.pairwise(rows))

    result = changelog.verify()
    assert not result.ok
    assert result.broken_id == victim
    assert result.broken_time == ObjectChange.objects.get(pk=victim).time
    assert result.checked == chain.index(victim)
    assert expected in result.reason

    _out, error = verify_command()
    assert f"#{victim}" in error and "BROKEN" in error and expected in error


def test_rewritten_chain_columns_with_a_wrong_key_are_named(chain: list[int]) -> None:
    victim = chain[4]
    # Re-attribute a record to someone else and re-sign it and everything after with a made-up key.
    recompute_chain(victim, key=WRONG_KEY, version=1, edit={"user_name": "scapegoat"})
    result = changelog.verify()
    assert result.broken_id == victim


def test_whole_chain_recomputed_as_legacy_is_caught_by_the_checkpoint(chain: list[int]) -> None:
    # Without keyed records left, "legacy before keyed" cannot expose a fully recomputed chain:
    # the checkpoint written outside the database does.
    recompute_chain(chain[0], key=None, version=0, edit={"user_name": "nobody"})
    assert changelog.verify(checkpoints=checkpoints.CheckpointLog()).ok  # a valid chain in itself
    result = changelog.verify()
    assert not result.ok
    assert "the chain was rewritten from its start" in result.reason
    _out, error = verify_command()
    assert "BROKEN" in error and f"checkpoint #1 at id {chain[-1]}" in error


# --- (b) a deleted tail -------------------------------------------------------------------------


def test_deleted_tail_is_reported_against_the_checkpoint(chain: list[int]) -> None:
    cp = checkpoints.read_checkpoints().latest()
    assert cp is not None and cp.id == chain[-1]
    doomed = chain[-3:]
    if connection.vendor == "postgresql":
        assert "append-only" in (refused("DELETE FROM core_objectchange WHERE id >= %s", [doomed[0]]) or "")
    with triggers_off():
        sql("DELETE FROM core_objectchange WHERE id >= %s", [doomed[0]])
    # What is left is a perfectly valid chain: only the checkpoint shows what is missing.
    assert changelog.verify(checkpoints=checkpoints.CheckpointLog()).ok

    result = changelog.verify()
    assert not result.ok and result.missing_tail
    assert result.broken_id is None
    assert f"checkpoint #{cp.n} at id {cp.id} hash {cp.hash}" in result.reason
    assert f"database ends at id {chain[-4]}" in result.reason

    _out, error = verify_command()
    assert f"checkpoint #{cp.n} at id {cp.id} hash {cp.hash}" in error
    assert f"database ends at id {chain[-4]}" in error


def test_every_record_deleted_is_reported(chain: list[int]) -> None:
    if connection.vendor == "postgresql":
        # TRUNCATE fires no row trigger (and Django's test flush relies on it): verify has to catch it.
        sql("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses while deferred FK checks are pending
        sql("TRUNCATE core_objectchange")
    else:
        sql("DELETE FROM core_objectchange")
    result = changelog.verify()
    assert result.missing_tail
    assert "database has no change records" in result.reason


def test_records_after_the_latest_checkpoint_are_counted_until_the_next_one(chain: list[int]) -> None:
    # The window a checkpoint interval leaves: verify says how many records no checkpoint covers yet.
    for i in range(3):
        Site(name=f"Late {i}", slug=f"late-{i}").save()
    result = changelog.verify()
    assert result.ok and result.after_checkpoint == 3
    out, _error = verify_command()
    assert "3 record(s) since" in out
    checkpoints.checkpoint_write()
    assert changelog.verify().after_checkpoint == 0


# --- (c) erased set by hand -----------------------------------------------------------------


BLANK = ("UPDATE core_objectchange SET erased = %s, user_name = '', object_repr = '[erased]', prechange_data = NULL, "
         "postchange_data = NULL WHERE id = %s")


def test_direct_update_of_erased_is_refused_or_detected(chain: list[int]) -> None:
    victim = chain[6]
    if connection.vendor == "postgresql":
        # A plain UPDATE, with or without blanking the payload...
        assert "erasure service" in (refused(BLANK, [True, victim]) or "")
        assert "blanks the whole payload" in (refused(
            "UPDATE core_objectchange SET erased = true WHERE id = %s", [victim]) or "")
        # ...and with the erasure service's setting faked but no erasure record listing the row.
        assert "no erasure record lists it" in (refused(
            BLANK, [True, victim], setup="SELECT set_config('cmdb.audit_erasure', '999999', true)") or "")
        # A bogus setting is refused too, not misread.
        assert refused(BLANK, [True, victim], setup="SELECT set_config('cmdb.audit_erasure', 'x', true)")
    assert ObjectChange.objects.get(pk=victim).erased is False
    with triggers_off():
        sql(BLANK, [True, victim])
    result = changelog.verify()
    assert result.broken_id == victim
    assert "no erasure record names it" in result.reason
    _out, error = verify_command()
    assert f"#{victim}" in error and "no erasure record" in error


def test_erased_flag_hiding_data_is_detected(chain: list[int]) -> None:
    victim = chain[2]
    with triggers_off():
        sql("UPDATE core_objectchange SET erased = true WHERE id = %s", [victim])
    assert changelog.verify().broken_id == victim
    assert "still carries data" in changelog.verify().reason


def test_forged_erasure_record_gets_past_the_trigger_but_not_verify(chain: list[int]) -> None:
    # The full attack on the trigger: forge an erasure record (the attacker has no key, so signs
    # it with one of their own), point the setting at it, blank the victim.
    victim = chain[5]
    head = ObjectChange.objects.order_by("-id").first()
    assert head is not None
    forged = ObjectChange(
        time=head.time, user_name="dpo", request_id=head.request_id, source="cli", action=ChangeAction.ERASE,
        changed_object_type_id=head.changed_object_type_id, changed_object_id=victim, object_repr="Erasure",
        postchange_data={changelog.ERASURE_LIST: [victim], "reason": "none", "target": "x"}, salt="0" * 32,
        key_version=1,
    )
    forged.data_digest = changelog.data_digest(forged.salt, forged, WRONG_KEY)
    forged.prev_hash = head.chain_hash
    forged.chain_hash = changelog.link_hash(head.chain_hash, forged, WRONG_KEY)
    ObjectChange.objects.bulk_create([forged])
    forged_id = ObjectChange.objects.order_by("-id").values_list("id", flat=True).first()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            sql("SELECT set_config('cmdb.audit_erasure', %s, true)", [str(forged_id)])
        sql(BLANK, [True, victim])  # the trigger accepts this: the row is listed by an erasure record
    result = changelog.verify()
    assert result.broken_id == forged_id
    assert "data differs from its digest" in result.reason


def test_erased_records_stay_erased_and_erasure_records_are_never_erased(chain: list[int]) -> None:
    done = erasure.changes_erase(target=erasure.resolve_target(records=[chain[3]]), reason="request of 2026-01-02")
    assert done.record is not None
    if connection.vendor == "postgresql":
        assert "stays as it is" in (refused("UPDATE core_objectchange SET erased = false WHERE id = %s",
                                            [chain[3]]) or "")
        assert "stays as it is" in (refused("UPDATE core_objectchange SET user_name = 'back' WHERE id = %s",
                                            [chain[3]]) or "")
        assert "never erased" in (refused(BLANK, [True, done.record.pk],
                                          setup=f"SELECT set_config('cmdb.audit_erasure', '{done.record.pk}', true)")
                                  or "")
    with triggers_off():
        sql(BLANK, [True, done.record.pk])
    assert changelog.verify().broken_id == done.record.pk


# --- (d) a proper erasure -------------------------------------------------------------------------


@pytest.fixture
def person(keys: dict[int, bytes], make_user: Any) -> Any:
    """A contact whose name and e-mail sit in several change records, and a device (unrelated)."""
    operator = make_user("operator")
    with change_logging(user=operator, source="api"):
        contact = Contact(name="Erika Mustermann", email="erika@example.org")
        contact.save()
    with change_logging(user=operator, source="api"):
        contact.phone = "+49 3583 612-0"
        contact.save()
    factories.device("srv-keep")
    return contact


def test_erasure_by_command_blanks_records_verifies_and_is_listed(person: Any) -> None:
    records = list(ObjectChange.objects.filter(changed_object_id=person.pk,
                                               changed_object_type__model="contact").order_by("id"))
    assert len(records) == 2 and "Erika" in json.dumps(records[0].postchange_data)
    keep = ObjectChange.objects.get(changed_object_type__model="device")

    out = StringIO()
    call_command("audit", "erase", "--object", f"tenancy.contact:{person.pk}", "--dry-run",
                 "--reason", "Art. 17 GDPR request", stdout=out)
    assert f"Would erase 2 change record(s) of tenancy.contact:{person.pk}" in out.getvalue()
    assert not ObjectChange.objects.filter(erased=True).exists()

    out = StringIO()
    call_command("audit", "erase", "--object", f"tenancy.contact:{person.pk}",
                 "--reason", "Art. 17 GDPR request of 2026-11-30", stdout=out)
    assert "Erased 2 change record(s)" in out.getvalue()
    for rec in ObjectChange.objects.filter(pk__in=[r.pk for r in records]):
        assert rec.erased and rec.user_name == "" and rec.object_repr == "[erased]"
        assert rec.prechange_data is None and rec.postchange_data is None
        assert rec.data_digest == next(r.data_digest for r in records if r.pk == rec.pk)  # the digest stays
    assert "Erika" not in json.dumps(list(ObjectChange.objects.values_list("postchange_data", flat=True)))
    assert ObjectChange.objects.get(pk=keep.pk).postchange_data == keep.postchange_data

    record = erasure.erasures_list().get()
    assert record.postchange_data == {"erased": [r.pk for r in records], "reason": "Art. 17 GDPR request of 2026-11-30",
                                      "target": f"tenancy.contact:{person.pk}"}
    assert record.user_name.startswith("cli:") and record.key_version == 1
    assert (record.related_object_type.model, record.related_object_id) == ("contact", person.pk)

    result = changelog.verify()
    assert result.ok, result.problems
    assert result.erasures == 1 and result.erased == 2
    out, error = verify_command()
    assert not error and "1 erasure record(s) account for the 2 erased record(s)" in out

    listing = StringIO()
    call_command("audit", "erasures", stdout=listing)
    assert f"#{record.pk}" in listing.getvalue() and "2 record(s) of tenancy.contact" in listing.getvalue()
    assert "Art. 17 GDPR request of 2026-11-30" in listing.getvalue()

    # The erasure record is chained like any other: editing its reason breaks the chain there.
    with triggers_off():
        sql("UPDATE core_objectchange SET postchange_data = %s WHERE id = %s",
            [json.dumps({**record.postchange_data, "reason": "because"}), record.pk])
    assert changelog.verify().broken_id == record.pk


def test_erasure_of_a_user_blanks_what_they_did(keys: dict[int, bytes], make_user: Any) -> None:
    leaver, other = make_user("leaver"), make_user("stays")
    with change_logging(user=leaver, source="api"):
        factories.site("Görlitz")
    with change_logging(user=other, source="api"):
        factories.site("Bautzen")
    call_command("audit", "erase", "--user", "leaver", "--reason", "left the university", "--by", "stays",
                 stdout=StringIO())
    assert list(ObjectChange.objects.filter(erased=True).values_list("changed_object_id", flat=True)) == [
        Site.objects.get(name="Görlitz").pk]
    assert ObjectChange.objects.get(changed_object_id=Site.objects.get(name="Bautzen").pk).user_name == "stays"
    record = erasure.erasures_list().get()
    assert record.user_name == "stays" and record.user_id == other.pk
    assert "leaver" not in json.dumps(record.postchange_data)  # the erasure record does not repeat the name
    assert changelog.verify().ok


def test_erase_command_refuses_bad_input(person: Any) -> None:
    with pytest.raises(CommandError, match=r"--object: Give the object as app_label\.model:id"):
        call_command("audit", "erase", "--object", "contact-42", "--reason", "x")
    with pytest.raises(CommandError, match=r"--object: Unknown object type 'nope\.thing'"):
        call_command("audit", "erase", "--object", "nope.thing:1", "--reason", "x")
    with pytest.raises(CommandError, match="--reason: Give the legal reason"):
        call_command("audit", "erase", "--object", f"tenancy.contact:{person.pk}", "--reason", "  ")
    with pytest.raises(CommandError, match="--by: no user named 'ghost'"):
        call_command("audit", "erase", "--object", f"tenancy.contact:{person.pk}", "--reason", "x", "--by", "ghost")
    with pytest.raises(CommandError, match="--records: No change record with id 99999999"):
        call_command("audit", "erase", "--record", "99999999", "--reason", "x")
    assert not ObjectChange.objects.filter(erased=True).exists()
    assert not erasure.erasures_list().exists()


def test_erasure_api_has_its_own_permission(person: Any, make_user: Any, make_token: Any, api: APIClient) -> None:
    from tests.security.conftest import ALL_ACTIONS, grant

    url = "/api/core/audit/erasures/"
    body = {"object": f"tenancy.contact:{person.pk}", "reason": "Art. 17 GDPR"}
    # A tenant-wide administrator with every action on every model may not erase.
    admin_of_all = make_user("faculty-admin")
    grant(name="all-actions", types=["*"], actions=ALL_ACTIONS, users=[admin_of_all])
    for client in (APIClient(), _client(make_token, admin_of_all)):
        assert client.post(url, body, format="json").status_code in (401, 403)
    # The permission, granted to a data-protection officer, is what counts; a read-only token still cannot.
    dpo = make_user("dpo")
    dpo.user_permissions.add(Permission.objects.get(codename="erase_objectchange", content_type__app_label="core"))
    response = _client(make_token, dpo, write=False).post(url, body, format="json")
    assert response.status_code == 403 and "read-only" in response.json()["detail"]
    assert not ObjectChange.objects.filter(erased=True).exists()

    dry = _client(make_token, dpo).post(url, {**body, "dry_run": True}, format="json")
    assert dry.status_code == 200 and dry.json()["count"] == 2 and dry.json()["erasure"] is None
    done = _client(make_token, dpo).post(url, body, format="json")
    assert done.status_code == 201, done.content
    record = ObjectChange.objects.get(pk=done.json()["erasure"])
    assert record.action == "erase" and record.user_id == dpo.pk and record.source == "api"
    assert done.json()["erased"] == record.postchange_data["erased"]
    assert changelog.verify().ok
    # The superuser may too; nothing is left to erase, so no record is written.
    again = api.post(url, body, format="json")
    assert again.status_code == 200 and again.json()["count"] == 0
    # Listed in the change log API like any record.
    listed = api.get("/api/core/object-changes/?action=erase").json()
    assert [r["id"] for r in listed["results"]] == [record.pk]


@pytest.mark.parametrize(("body", "field"), [
    ({"reason": "x"}, "object"),
    ({"object": "dcim.device:1", "user": "x", "reason": "x"}, "object"),
    ({"object": "dcim.device:1"}, "reason"),
    ({"object": "dcim.device", "reason": "x"}, "object"),
    ({"records": ["a"], "reason": "x"}, "records"),
    ({"records": [], "reason": "x"}, "records"),
    ({"object": "dcim.device:1", "reason": "x" * 501}, "reason"),
    ({"object": "dcim.device:1", "reason": "x", "dry_run": "perhaps"}, "dry_run"),
])
def test_erasure_api_names_the_bad_field(api: APIClient, body: dict[str, Any], field: str) -> None:
    response = api.post("/api/core/audit/erasures/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def _client(make_token: Any, user: Any, *, write: bool = True) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(user, write=write)}")
    return client


# --- (e) keys and their rotation --------------------------------------------------------------


def test_rotated_keys_both_verify_and_a_removed_key_is_reported(settings: Any) -> None:
    settings.AUDIT_KEYS = {1: KEY_1}
    old = [factories.site(f"Old {i}") for i in range(3)]
    settings.AUDIT_KEYS = {1: KEY_1, 2: KEY_2}  # rotation: a new version, the old key kept for verification
    new = [factories.site(f"New {i}") for i in range(2)]
    by_version = dict(ObjectChange.objects.values_list("changed_object_id", "key_version"))
    assert [by_version[s.pk] for s in old] == [1, 1, 1] and [by_version[s.pk] for s in new] == [2, 2]
    result = changelog.verify()
    assert result.ok and result.key_versions == {1: 3, 2: 2}

    settings.AUDIT_KEYS = {2: KEY_2}
    result = changelog.verify()
    first = ObjectChange.objects.order_by("id").first()
    assert first is not None
    assert result.broken_id == first.pk
    assert "audit key version 1, which is not configured" in result.reason
    _out, error = verify_command()
    assert "key version 1, which is not configured" in error

    settings.AUDIT_KEYS = {1: KEY_2, 2: KEY_2}  # a wrong key under the old version number
    assert changelog.verify().broken_id == first.pk


def test_legacy_records_still_verify_and_only_before_the_keyed_ones(keys: dict[int, bytes]) -> None:
    # Records as the unkeyed scheme wrote them before the upgrade (key version 0, plain SHA-256).
    for i in range(4):
        factories.site(f"Before {i}")
    first = ObjectChange.objects.order_by("id").values_list("id", flat=True).first()
    assert first is not None
    recompute_chain(first, key=None, version=0)
    assert changelog.verify().ok
    for i in range(2):
        factories.site(f"After {i}")
    result = changelog.verify()
    assert result.ok and result.key_versions == {0: 4, 1: 2}
    # A legacy-looking record after the keyed ones is a forgery (anyone can compute SHA-256).
    last = ObjectChange.objects.order_by("-id").first()
    assert last is not None
    recompute_chain(last.pk, key=None, version=0, edit={"user_name": "someone"})
    result = changelog.verify()
    assert result.broken_id == last.pk and "legacy unkeyed scheme" in result.reason


def test_keys_from_the_environment_and_files(tmp_path: Path) -> None:
    env = {"CMDB_AUDIT_KEYS": f"1:{'a' * 32}, 2:{'b' * 32}", "CMDB_AUDIT_KEY": f"3:{'c' * 32}"}
    keys, source = auditkeys.load_keys(env, tmp_path)
    assert keys == {1: b"a" * 32, 2: b"b" * 32, 3: b"c" * 32}
    assert source == "CMDB_AUDIT_KEYS, CMDB_AUDIT_KEY"
    assert not (tmp_path / "audit.key").exists()  # no file is made when the environment has keys

    key_file = tmp_path / "keys"
    key_file.write_text(f"# rotated 2026-12\n1:{'a' * 32}\n\n4:{'d' * 40}   # current\n")
    keys, source = auditkeys.load_keys({"CMDB_AUDIT_KEY_FILE": str(key_file), "CMDB_AUDIT_KEY": f"5:{'e' * 32}"},
                                       tmp_path)
    assert keys == {1: b"a" * 32, 4: b"d" * 40, 5: b"e" * 32}
    assert source == f"CMDB_AUDIT_KEY, {key_file}"

    assert auditkeys.load_keys({"CMDB_AUDIT_KEY": "k" * 32}, tmp_path)[0] == {1: b"k" * 32}  # bare key: version 1
    for env, message in [
        ({"CMDB_AUDIT_KEYS": f"1:{'a' * 32} 1:{'b' * 32}"}, "given twice"),
        ({"CMDB_AUDIT_KEYS": "1:short"}, "shorter than 32"),
        ({"CMDB_AUDIT_KEYS": f"0:{'a' * 32}"}, "out of range"),
        ({"CMDB_AUDIT_KEYS": "a" * 32}, "has no version"),
        ({"CMDB_AUDIT_KEY_FILE": str(tmp_path / "missing")}, "cannot read"),
    ]:
        with pytest.raises(auditkeys.AuditKeyError, match=message) as excinfo:
            auditkeys.load_keys(env, tmp_path)
        assert "a" * 32 not in str(excinfo.value) and "b" * 32 not in str(excinfo.value)  # never echoes a key


def test_conflicting_versions_across_sources_are_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text(f"1:{'a' * 32}\n")
    with pytest.raises(auditkeys.AuditKeyError, match="version 1 is given twice"):
        auditkeys.load_keys({"CMDB_AUDIT_KEY_FILE": str(key_file), "CMDB_AUDIT_KEY": "x" * 32}, tmp_path)


def test_default_key_file_is_made_once_and_private(tmp_path: Path) -> None:
    keys, source = auditkeys.load_keys({}, tmp_path / "data")
    path = tmp_path / "data" / "audit.key"
    assert source == str(path) and list(keys) == [1] and len(keys[1]) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert auditkeys.load_keys({}, tmp_path / "data")[0] == keys  # the same key next time
    # Many processes starting at once agree on one key.
    results: list[dict[int, bytes]] = []
    threads = [threading.Thread(target=lambda: results.append(auditkeys.load_keys({}, tmp_path / "race")[0]))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(r == results[0] for r in results)
    assert [p.name for p in (tmp_path / "race").iterdir()] == ["audit.key"]


def test_keygen_prints_the_next_version(keys: dict[int, bytes], tmp_path: Path) -> None:
    out = StringIO()
    call_command("audit", "keygen", stdout=out)
    line = out.getvalue().strip()
    assert line.startswith("2:")
    parsed = auditkeys.parse_keys(line, "keygen")
    assert list(parsed) == [2] and len(parsed[2]) == 64
    out = StringIO()
    call_command("audit", "keygen", "--version", "7", stdout=out)
    assert out.getvalue().startswith("7:")


# --- (f) checkpoint sinks ---------------------------------------------------------------------


def test_checkpoint_command_appends_a_signed_line_to_the_file(chain: list[int], settings: Any) -> None:
    path = Path(settings.AUDIT_CHECKPOINT_FILE)
    before = path.read_text()
    assert before.count("\n") == 1  # the chain fixture's checkpoint
    out = StringIO()
    call_command("audit", "checkpoint", stdout=out)
    assert f"Wrote checkpoint #2 at id {chain[-1]}" in out.getvalue() and str(path) in out.getvalue()
    text = path.read_text()
    assert text.startswith(before)  # appended, never rewritten
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    line = json.loads(text.splitlines()[-1])
    head = ObjectChange.objects.get(pk=chain[-1])
    assert line["type"] == "cmdb.audit.checkpoint" and line["n"] == 2 and line["reason"] == "manual"
    assert (line["id"], line["hash"], line["key_version"], line["mac_key"]) == (head.pk, head.chain_hash, 1, 1)
    assert dt.datetime.fromisoformat(line["time"]) == head.time
    assert line["anchor"] == ObjectChange.objects.get(pk=chain[0]).chain_hash
    assert checkpoints.parse_line(text.splitlines()[-1], {1: KEY_1}).id == head.pk

    # An edited line (pointing the checkpoint at an earlier record, to cover a deletion) is rejected.
    forged = {**line, "id": chain[-5], "hash": ObjectChange.objects.get(pk=chain[-5]).chain_hash}
    with open(path, "a") as handle:
        handle.write(json.dumps(forged) + "\n")
    result = changelog.verify()
    assert not result.ok and "has a wrong signature" in result.reason
    with pytest.raises(checkpoints.CheckpointLineError, match="wrong signature"):
        checkpoints.parse_line(json.dumps(forged), {1: KEY_1})


def _udp_listener() -> tuple[socket.socket, str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    return sock, f"udp://127.0.0.1:{sock.getsockname()[1]}"


def _syslog_payload(datagram: bytes) -> tuple[int, str]:
    text = datagram.decode()
    assert text.startswith("<") and ">cmdb-audit: " in text, text
    priority, rest = text[1:].split(">", 1)
    return int(priority), rest.removeprefix("cmdb-audit: ")


def test_checkpoints_reach_syslog_over_udp(chain: list[int], settings: Any) -> None:
    listener, address = _udp_listener()
    settings.AUDIT_CHECKPOINT_SYSLOG = address
    with listener:
        out = StringIO()
        call_command("audit", "checkpoint", stdout=out)
        priority, message = _syslog_payload(listener.recv(65536))
    assert f"syslog ({address})" in out.getvalue()
    assert priority == 4 * 8 + 6  # facility auth, severity info
    cp = checkpoints.parse_line(message, {1: KEY_1})
    assert cp.id == chain[-1] and cp.n == 2
    assert message == Path(settings.AUDIT_CHECKPOINT_FILE).read_text().splitlines()[-1]  # the same line


def test_checkpoints_reach_syslog_over_a_unix_socket_and_tcp(chain: list[int], settings: Any, tmp_path: Path) -> None:
    path = tmp_path / "log.sock"
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    unix.bind(str(path))
    unix.settimeout(5)
    settings.AUDIT_CHECKPOINT_SYSLOG = f"unix:{path}"
    settings.AUDIT_CHECKPOINT_SYSLOG_FACILITY = "local3"
    with unix:
        checkpoints.checkpoint_write()
        priority, message = _syslog_payload(unix.recv(65536))
    assert priority == 19 * 8 + 6
    assert checkpoints.parse_line(message, {1: KEY_1}).id == chain[-1]

    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(5)
    settings.AUDIT_CHECKPOINT_SYSLOG = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    received: list[bytes] = []

    def accept() -> None:
        conn, _addr = server.accept()
        with conn:
            conn.settimeout(5)
            while not received or not received[-1].endswith(b"\n"):
                received.append(conn.recv(65536))

    thread = threading.Thread(target=accept)
    thread.start()
    with server:
        report = checkpoints.checkpoint_write()
        thread.join(10)
    assert not report.failed
    _priority, message = _syslog_payload(b"".join(received).rstrip(b"\n"))
    assert checkpoints.parse_line(message, {1: KEY_1}).n == report.checkpoint.n == 3


def test_a_failing_sink_is_reported_and_does_not_stop_the_others(chain: list[int], settings: Any,
                                                                 tmp_path: Path) -> None:
    settings.AUDIT_CHECKPOINT_SYSLOG = f"unix:{tmp_path / 'nobody-listens'}"
    with pytest.raises(CommandError, match=r"Could not write checkpoint #2 .* to syslog"):
        call_command("audit", "checkpoint", stdout=StringIO())
    assert Path(settings.AUDIT_CHECKPOINT_FILE).read_text().count("\n") == 2  # the file got it


def test_no_sink_at_all_is_an_error(keys: dict[int, bytes], settings: Any) -> None:
    settings.AUDIT_CHECKPOINT_FILE = ""
    with pytest.raises(CommandError, match="no checkpoint sink is configured"):
        call_command("audit", "checkpoint", stdout=StringIO())
    factories.site("Zittau")
    err = StringIO()
    call_command("audit", "verify", stdout=StringIO(), stderr=err)  # the chain is still checked...
    assert "a deleted tail cannot be detected" in err.getvalue()  # ...and the missing checkpoint said
    with pytest.raises(CommandError, match="none was found"):
        call_command("audit", "verify", "--require-checkpoint", stdout=StringIO(), stderr=StringIO())


class MemorySink:
    """Another app's sink (the backup archive, later), registered through the registry."""

    name = "memory"

    def __init__(self) -> None:
        self.lines: list[str] = []

    def describe(self) -> str:
        return "test"

    def write(self, line: str) -> None:
        self.lines.append(line)

    def read(self) -> Iterator[tuple[str, str]]:
        yield from ((f"memory:{i}", x) for i, x in enumerate(self.lines, 1))

    def last_line(self) -> str | None:
        return self.lines[-1] if self.lines else None


def test_registered_sinks_receive_checkpoints_and_are_read_by_verify(chain: list[int], settings: Any,
                                                                      monkeypatch: Any) -> None:
    sink = MemorySink()
    monkeypatch.setitem(checkpoints._FACTORIES, "memory", lambda: sink)
    with pytest.raises(ValueError, match="already registered"):
        checkpoints.register_sink("memory", lambda: None)
    settings.AUDIT_CHECKPOINT_FILE = ""  # only the registered sink
    checkpoints.checkpoint_write()
    assert len(sink.lines) == 1 and json.loads(sink.lines[0])["id"] == chain[-1]
    with triggers_off():
        sql("DELETE FROM core_objectchange WHERE id = %s", [chain[-1]])
    result = changelog.verify()
    assert result.missing_tail and result.checkpoint is not None and result.checkpoint.n == 1
    assert checkpoints.read_checkpoints().sources == ["memory (test)"]


def test_scheduler_writes_checkpoints_when_due(chain: list[int], settings: Any) -> None:
    from django.utils import timezone

    from cmdb.jobs.leases import lease_acquire
    from cmdb.jobs.scheduler import SCHEDULER_LEASE

    settings.AUDIT_CHECKPOINT_INTERVAL = 600
    now = timezone.now()
    assert checkpoints.checkpoint_if_due("worker-1", now=now) is None  # not the scheduler
    assert lease_acquire(SCHEDULER_LEASE, "worker-1", ttl=10_000, now=now)
    # The chain fixture's checkpoint is of the current head: nothing new to write.
    assert checkpoints.checkpoint_if_due("worker-1", now=now) is None
    factories.site("Löbau")
    later = now + dt.timedelta(seconds=601)
    report = checkpoints.checkpoint_if_due("worker-1", now=later)
    assert report is not None and report.checkpoint.reason == "scheduled" and report.checkpoint.n == 2
    factories.site("Zgorzelec")
    assert checkpoints.checkpoint_if_due("worker-1", now=later + dt.timedelta(seconds=5)) is None  # within the interval
    assert checkpoints.checkpoint_if_due("worker-1", now=later + dt.timedelta(seconds=602)) is not None
    settings.AUDIT_CHECKPOINT_INTERVAL = 0
    factories.site("Kamenz")
    assert checkpoints.checkpoint_if_due("worker-1", now=later + dt.timedelta(seconds=5000)) is None


def test_worker_burst_run_writes_a_checkpoint(keys: dict[int, bytes], settings: Any) -> None:
    from cmdb.jobs.worker import run_worker

    factories.site("Weißwasser")
    run_worker(burst=True, tasks=False)
    cp = checkpoints.read_checkpoints().latest()
    assert cp is not None and cp.reason == "scheduled"
    assert cp.id == ObjectChange.objects.order_by("-id").values_list("id", flat=True).first()


def test_checkpoint_file_lock_serializes_numbering(tmp_path: Path) -> None:
    # What checkpoint_write does under the lock: read the last number, append the next one.  Every
    # writer opens the file itself, as separate processes would; the flock keeps numbers unique.
    path = tmp_path / "cp.log"

    def write() -> None:
        sink = checkpoints.FileSink(path)
        with sink.lock():
            n = checkpoints._last_checkpoint_fields([sink]).get("n", 0) + 1
            sink.write(json.dumps({"n": n}))

    threads = [threading.Thread(target=write) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    numbers = [json.loads(x)["n"] for x in path.read_text().splitlines()]
    assert numbers == list(range(1, 17))


# --- the administrators' status view -----------------------------------------------------------


def test_audit_status_api(chain: list[int], api: APIClient, make_user: Any, make_token: Any) -> None:
    assert _client(make_token, make_user("someone")).get("/api/core/audit/").status_code == 403
    status = api.get("/api/core/audit/").json()
    assert status["checkpoint"]["id"] == chain[-1] < status["head"]["id"]  # the tokens' records came after
    assert status["records_after_checkpoint"] == status["head"]["id"] - chain[-1]
    assert status["checkpoint_matches"] is True and status["problems"] == []
    checkpoints.checkpoint_write()
    head = api.get("/api/core/audit/").json()["head"]["id"]
    assert status["current_key_version"] == 1 and status["configured_key_versions"] == [1]
    with triggers_off():
        sql("DELETE FROM core_objectchange WHERE id = %s", [head])
    status = api.get("/api/core/audit/").json()
    assert status["checkpoint_matches"] is False
    assert f"at id {head} " in status["problems"][0] and "database ends at id" in status["problems"][0]


def test_verify_command_on_an_intact_chain(chain: list[int]) -> None:
    out, error = verify_command()
    assert not error
    assert f"Change log intact: {len(chain)} records verified (records per key version: v1: {len(chain)})" in out
    assert f"Matches checkpoint #1 at id {chain[-1]}" in out


def test_hmac_is_not_sha256(chain: list[int]) -> None:
    row = ObjectChange.objects.get(pk=chain[0])
    fields = changelog.link_hash(row.prev_hash, row, None)
    assert row.chain_hash != fields
    assert row.chain_hash == changelog.link_hash(row.prev_hash, row, KEY_1)
    payload = {"user_name": row.user_name, "object_repr": row.object_repr, "prechange_data": row.prechange_data,
               "postchange_data": row.postchange_data}
    assert row.data_digest != hashlib.sha256(row.salt.encode() + changelog.canonical(payload)).hexdigest()
    assert row.data_digest == changelog.data_digest(row.salt, row, KEY_1)
    # Standard HMAC-SHA256, whatever the key's length (the change log precomputes its padded states).
    for key in (KEY_1, b"k" * 64, b"long" * 40):
        for message in (b"", b"x", b"y" * 1000):
            assert changelog.hmac_sha256(key, message) == hmac.digest(key, message, "sha256").hex()
