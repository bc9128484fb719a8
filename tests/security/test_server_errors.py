"""Regression tests for server errors (500) found by the adversarial run (issue 12, finding 9) and by
the fuzzing (test_fuzz_api_schema.py, test_fuzz_import.py), each fixed in a shared layer.

* a lone surrogate ``"\\ud800"`` in a choice field (any endpoint) or in Alertmanager labels: the
  error message quoted it and UTF-8 cannot encode it; the JSON renderer now writes it back as an
  escape (cmdb/api/renderers.py);
* JSON nested 900 levels deep in ``local_context_data`` (any JSON field), ``1e309`` in one:
  ``RecursionError`` in DRF's JSON field; ``cmdb.core.storable.json_problem`` in ``JSONValueField``;
* ``limit=-5`` on the search, twenty digits in ``offset`` of service discovery: a negative slice,
  an OFFSET beyond 64 bits; ``cmdb.api.pagination.query_int`` for every count in a query string;
* deleting a contact that has assignments: the cascaded assignment's change record asked for its
  contact's name after the contact was gone; the change log now takes a deleted object's name
  when the delete is noted (cmdb/core/changelog.py);
* a write refused after the write (the scope check), caught by a caller that then commits: the
  change records of the rolled-back rows were committed; ``cmdb.core.context.atomic`` in the write
  services forgets them.

The other 500s of finding 9 have their regression tests where their mechanism is tested:
``actions: ["a", ["b"]]`` (test_scope_findings.py), discovery surrogates, integers beyond 64 bits,
a relationship to the reporter itself (test_discovery_scope.py), nesting in discovery attributes
(test_limits.py), writes to ingest records (test_discovery_scope.py), token expiry, IPv4-mapped
addresses and own tokens (test_tokens_throttle.py), the web import (tests/ui/test_import_values.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework import serializers

from cmdb.api.fields import ChoiceField
from cmdb.core.models import ObjectChange
from cmdb.tenancy.models import ContactAssignment, ContactRole

from .conftest import token_client
from .test_scope_walk import router_endpoints

pytestmark = pytest.mark.django_db


def raw(client: Any, method: str, url: str, text: str) -> Any:
    """Send JSON text as it is (the test client's encoder would refuse a lone surrogate)."""
    return getattr(client, method)(url, data=text, content_type="application/json")


def _writable_choice_fields() -> list[tuple[str, list[str]]]:
    out = []
    for ep in router_endpoints():
        if "post" not in ep.viewset.http_method_names or getattr(ep.viewset, "serializer_class", None) is None:
            continue
        fields = ep.viewset.serializer_class().fields
        names = [name for name, f in fields.items()
                 if isinstance(f, (ChoiceField, serializers.ChoiceField)) and not f.read_only]
        if names:
            out.append((ep.list_url(), names))
    return out


def test_a_lone_surrogate_in_any_choice_field_is_a_400_naming_it(world: Any, superuser: Any) -> None:
    api = token_client(superuser)
    endpoints = _writable_choice_fields()
    assert len(endpoints) >= 16  # the run found 16 endpoints; the walk finds every one with a choice field
    for url, names in endpoints:
        body = "{" + ",".join(f'"{name}": "x\\ud800"' for name in names) + "}"
        r = raw(api, "post", url, body)
        if r.status_code == 405:  # POST only for a detail action (e.g. acknowledge): the list creates nothing
            continue
        assert r.status_code == 400, (url, r.status_code, r.content[:300])
        errors = json.loads(r.content)  # valid JSON: the surrogate comes back escaped
        assert set(names) <= set(errors), (url, errors)


def test_the_browsable_api_shows_a_lone_surrogate_as_its_escape(world: Any, superuser: Any) -> None:
    from rest_framework.test import APIClient

    web = APIClient()
    web.force_login(superuser)
    r = web.post("/api/dcim/devices/", data='{"name": "x", "status": "\\ud800"}',
                 content_type="application/json", HTTP_ACCEPT="text/html")
    assert r.status_code == 400 and r["Content-Type"].startswith("text/html")
    assert "\\ud800" in r.content.decode()


def test_alertmanager_labels_with_lone_surrogates_are_a_400(api: Any) -> None:
    body = ('{"version": "4", "status": "firing", "alerts": [{"status": "\\ud800", '
            '"labels": {"alertname": "\\ud800", "ci_id": "1"}, "startsAt": "2026-01-01T00:00:00Z"}]}')
    r = raw(api, "post", "/api/monitoring/alertmanager/", body)
    assert r.status_code == 400, r.content[:300]
    assert "alerts" in json.loads(r.content)


@pytest.mark.parametrize("value", [
    "[" * 900 + "]" * 900,
    '{"a":' * 900 + "1" + "}" * 900,
    "[" * 65 + "]" * 65,  # just over the limit
])
def test_json_fields_nested_too_deeply_are_a_400(world: Any, api: Any, value: str) -> None:
    before = ObjectChange.objects.count()
    r = raw(api, "patch", f"/api/dcim/devices/{world.srv_a.pk}/", '{"local_context_data": ' + value + "}")
    assert r.status_code == 400, r.content[:300]
    assert r.json() == {"local_context_data": ["Nested deeper than 64 levels."]}
    r = raw(api, "post", "/api/extras/config-contexts/", '{"name": "deep", "data": ' + value + "}")
    assert r.status_code == 400 and "data" in r.json()
    assert ObjectChange.objects.count() == before


def test_json_fields_take_nesting_up_to_the_limit_and_refuse_infinity(world: Any, api: Any) -> None:
    deepest = '{"k": ' + "[" * 63 + "1" + "]" * 63 + "}"  # 64 levels: an object and 63 lists
    r = raw(api, "patch", f"/api/dcim/devices/{world.srv_a.pk}/", '{"local_context_data": ' + deepest + "}")
    assert r.status_code == 200, r.content[:300]
    r = raw(api, "patch", f"/api/dcim/devices/{world.srv_a.pk}/", '{"local_context_data": {"n": 1e309}}')
    assert r.status_code == 400
    assert r.json() == {"local_context_data": ["Numbers must be finite (not infinity or NaN)."]}


@pytest.mark.parametrize("query, message", [
    ("limit=-5", "Must not be negative."),
    ("limit=²", "is not a whole number."),
    ("limit=" + "9" * 20, "Must be at most"),
])
def test_search_counts_are_checked(world: Any, api: Any, query: str, message: str) -> None:
    r = api.get(f"/api/core/search/?q=srv&{query}")
    assert r.status_code == 400 and message in r.json()["limit"][0], r.content


def test_search_limit_still_works(world: Any, api: Any) -> None:
    r = api.get("/api/core/search/?q=srv&limit=1")
    assert r.status_code == 200 and r.json()["count"] >= 1


@pytest.mark.parametrize("query", ["offset=12345678901234567890", "limit=12345678901234567890", "offset=²",
                                   "limit=-1", "offset=4611686018427387903&limit=4611686018427387903"])
def test_service_discovery_offsets_are_bounded(world: Any, api: Any, query: str) -> None:
    r = api.get(f"/api/monitoring/sd/devices/?{query}")
    body = b"".join(r.streaming_content) if getattr(r, "streaming", False) else r.content
    if query.startswith("offset=4611"):
        assert r.status_code == 200 and json.loads(body) == []  # the largest offset and limit still fit together
    else:
        assert r.status_code == 400, body[:300]
        assert set(json.loads(body)) & {"offset", "limit"}


def test_deleting_a_contact_logs_its_assignments_by_name(world: Any, api: Any) -> None:
    role = ContactRole(name="Owner", slug="owner")
    role.save()
    assignment = ContactAssignment.objects.create(object=world.srv_a, contact=world.contact_a, role=role)
    r = api.delete(f"/api/tenancy/contacts/{world.contact_a.pk}/")
    assert r.status_code == 204, r.content[:300]
    record = ObjectChange.objects.get(changed_object_id=assignment.pk, action="delete",
                                      changed_object_type__model="contactassignment")
    assert record.object_repr == "Ada A (Owner)"  # named while the contact still existed
    assert ObjectChange.objects.filter(changed_object_id=world.contact_a.pk, action="delete",
                                       changed_object_type__model="contact").exists()


def test_a_write_refused_after_the_write_leaves_no_change_record(world: Any) -> None:
    """The scope check after the write rolls the rows back; a caller that catches the refusal and
    commits (the web import shows it as a page) must not commit their change records either."""
    from django.core.exceptions import PermissionDenied

    from cmdb.core.context import change_logging
    from cmdb.core.services import objects_create
    from cmdb.ipam.models import IPAddress

    from .conftest import fresh

    before = ObjectChange.objects.count()
    with change_logging(user=fresh(world.alice), source="web"), pytest.raises(PermissionDenied):
        objects_create(IPAddress, [{"address": "10.9.9.9/24"}], user=fresh(world.alice))  # no tenant
    assert not IPAddress.objects.filter(address="10.9.9.9/24").exists()
    assert ObjectChange.objects.count() == before
