"""Robustness: no input, however wrong, may cause a 5xx.

Garbage bodies, wrong types for every writable field, and garbage values for every
kind of filter parameter an endpoint declares.  Each response must be a 4xx (or a
success when the garbage happens to be acceptable), and a 4xx body must be JSON.

To keep the run short without losing coverage, every field gets every garbage value
at once in one request (the serializer checks all fields), and each field also gets a
rotating share of the values on its own (so values that pass the serializer reach
the model and the database); a device's JSON-ish fields get all of them on their own.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import resolve

from cmdb.dcim.models import Device
from tests import factories as f

pytestmark = pytest.mark.django_db

HUGE = 2**70
GARBAGE_VALUES: list[Any] = [
    None, True, 0, -1, 1.5, HUGE, "", "x" * 5000, "a\u0000b", "🙂", "²", "2024-13-45", "1e400",
    [], [None], [1, "a"], [[[]]], {}, {"id": None}, {"id": []}, {"id": HUGE}, {"id": "1"}, {"id": True},
    {"slug": {"a": 1}}, {"slug": [1, 2]}, {"name__regex": "("}, {"\u0000": "\u0000"}, {"k": "\u0000"},
    json.loads("[" * 400 + "]" * 400), json.loads('{"a":' * 400 + "1" + "}" * 400),
]
GARBAGE_BODIES: list[Any] = [
    "a string", 42, -3.5, True, None, [], [None], [[]], [1, 2, 3], ["x"], [{"id": "abc"}], [{}, "x"],
    {"": None}, {"a": {"b": [1, {"c": [None]}]}}, [{"id": HUGE}], [{"id": True}], {"id": HUGE}, {"\u0000": 1},
]
QUERY_GARBAGE = ["abc", "99999999999999999999999", "1e400", "%00", "null", "²"]
WRITE_ENDPOINTS = ["dcim/sites", "dcim/racks", "dcim/devices", "dcim/interfaces", "ipam/ip-addresses",
                   "ipam/prefixes", "virtualization/virtual-machines", "virtualization/interfaces", "tenancy/tenants",
                   "tenancy/contacts", "tenancy/contact-assignments", "extras/tags", "extras/custom-fields",
                   "extras/journal-entries", "users/tokens", "users/permissions"]
FILTERED_ENDPOINTS = ["dcim/devices", "dcim/interfaces", "dcim/sites", "ipam/ip-addresses",
                      "virtualization/virtual-machines", "extras/object-changes", "extras/journal-entries",
                      "tenancy/contact-assignments", "tenancy/tenants", "ipam/prefixes"]
JSONISH = {"local_context_data", "custom_fields", "tags", "object_types", "choices", "default", "allowed_ips"}


def _check(response: Any, what: Any) -> None:
    assert response.status_code < 500, (what, response.status_code, response.content[:500])
    if response.status_code >= 400 and response.content:
        json.loads(response.content)  # errors are JSON too


def _share(values: list[Any], index: int, size: int = 3) -> list[Any]:
    """A rotating slice of ``values``: over several fields every value is used."""
    start = (index * size) % len(values)
    return [values[(start + k) % len(values)] for k in range(size)]


def _fresh(base: dict[str, Any], n: int) -> dict[str, Any]:
    """``base`` with unique names, so a create is not refused merely as a duplicate of the previous one."""
    return {k: f"{v}-{n}" if k in ("name", "slug") else v for k, v in base.items()}


def _fuzz_fields(api: Any, path: str, base: dict[str, Any], fields: list[str], detail: str | None,
                 jsonish_share: int = len(GARBAGE_VALUES)) -> None:
    n = 0
    for k, value in enumerate(GARBAGE_VALUES):
        everything = {**base, **dict.fromkeys(fields, value)}
        _check(api.post(f"/api/{path}/", everything, format="json"), (path, "all fields", value))
        if detail and k % 2:
            _check(api.patch(detail, dict.fromkeys(fields, value), format="json"), (path, "patch all", value))
    for i, field in enumerate(fields):
        values = _share(GARBAGE_VALUES, i, jsonish_share if field in JSONISH else 3)
        for value in values:
            n += 1
            _check(api.post(f"/api/{path}/", {**_fresh(base, n), field: value}, format="json"), (path, field, value))
            if detail:
                _check(api.patch(detail, {field: value}, format="json"), (path, "patch", field, value))


def _writable(api: Any, path: str) -> list[str]:
    post = api.options(f"/api/{path}/").json()["actions"]["POST"]
    return [k for k, v in post.items() if not v.get("read_only")]


@pytest.fixture
def w(db, api):
    # Report a server error as a 500 response (whose assertion names the input), not as a raised exception.
    api.raise_request_exception = False
    return f.world()


def test_garbage_bodies_never_cause_5xx(api, w):
    for n, path in enumerate(WRITE_ENDPOINTS):
        for body in GARBAGE_BODIES:
            _check(api.post(f"/api/{path}/", body, format="json"), ("post", path, body))
        for body in _share(GARBAGE_BODIES, n):
            for method in ("patch", "put", "delete"):
                _check(getattr(api, method)(f"/api/{path}/", body, format="json"), (method, path, body))
            _check(api.patch(f"/api/{path}/1/", body, format="json"), ("patch 1", path, body))
        # Bodies that are not JSON at all, or not declared as JSON.
        for raw, ctype in ((b"{not json", "application/json"), (b"\xff\xfe", "application/json"),
                           (b"name=x&slug=y", "application/x-www-form-urlencoded"), (b"<x/>", "application/xml"),
                           (b"[" * 100_000, "application/json"), (b'{"a":' * 50_000, "application/json")):
            _check(api.generic("POST", f"/api/{path}/", raw, content_type=ctype), (path, raw))
    assert Device.objects.get(pk=w.devices["web01"].pk).name == "web01"


def test_wrong_types_for_every_device_field_never_cause_5xx(api, w):
    base = {"name": "fuzz", "device_type": w.r650.pk, "role": w.server.pk, "site": w.zittau.pk}
    fields = _writable(api, "dcim/devices")
    assert {"name", "site", "rack", "position", "face", "tags", "custom_fields", "local_context_data",
            "primary_ip4", "status", "serial", "asset_tag"} <= set(fields)
    web02 = w.devices["web02"].pk
    _fuzz_fields(api, "dcim/devices", base, fields, f"/api/dcim/devices/{web02}/")
    for value in GARBAGE_VALUES:
        for field in ("site", "name", "position", "tags", "custom_fields", "status"):
            _check(api.post("/api/dcim/devices/", [base | {"name": "ok-one"}, base | {"name": "b2", field: value}],
                            format="json"), ("bulk", field, value))
            Device.objects.filter(name__in=["ok-one", "b2"]).delete()
        _check(api.patch("/api/dcim/devices/", [{"id": web02, "role": value, "serial": value}], format="json"),
               ("bulk patch", value))
    # Whatever got through, every stored device still reads back cleanly, in lists and alone.
    body = api.get("/api/dcim/devices/?limit=0")
    assert body.status_code == 200
    for row in body.json()["results"]:
        _check(api.get(row["url"]), row["url"])
    assert Device.objects.get(pk=w.devices["web01"].pk).name == "web01"


def test_wrong_types_for_other_endpoints_never_cause_5xx(api, w):
    iface = w.devices["web01"].interfaces.first().pk
    samples = {
        "dcim/sites": ({"name": "fz", "slug": "fz"}, w.goerlitz.pk),
        "ipam/ip-addresses": ({"address": "192.0.2.1/24", "assigned_object_type": "dcim.interface",
                               "assigned_object_id": iface}, w.ips["free"].pk),
        "virtualization/virtual-machines": ({"name": "fz", "cluster": w.cluster.pk, "vcpus": 1}, w.vms["vm-b"].pk),
        "extras/journal-entries": ({"assigned_object_type": "dcim.device", "assigned_object_id": w.devices["db01"].pk,
                                    "comments": "x"}, None),
        "tenancy/contact-assignments": ({"object_type": "dcim.site", "object_id": w.zittau.pk,
                                         "contact": f.contact("Erika").pk, "role": f.contact_role().pk}, None),
        "extras/custom-fields": ({"name": "fz", "type": "text", "object_types": ["dcim.device"]}, None),
        "users/tokens": ({"user": 1, "write_enabled": False}, None),
    }
    for path, (base, pk) in samples.items():
        fields = _writable(api, path)
        _fuzz_fields(api, path, base, fields, f"/api/{path}/{pk}/" if pk else None, jsonish_share=10)
        listing = api.get(f"/api/{path}/?limit=0")
        assert listing.status_code == 200, (path, listing.content[:300])


def _signature(flt: Any) -> tuple:
    inner = flt.extra.get("inner")
    return (type(flt).__name__, type(inner).__name__, getattr(flt, "to_field", None), flt.method is not None,
            flt.lookup_expr in ("exact", "in"))


def test_garbage_query_values_never_cause_5xx(api, w):
    """Every kind of filter (class, value type, natural key, own method) gets every garbage value."""
    seen: set[tuple] = set()
    for path in FILTERED_ENDPOINTS:
        filters = resolve(f"/api/{path}/").func.cls.filterset_class.base_filters
        params = [*sorted(filters), "limit", "offset", "ordering", "brief"]
        for param in params:
            flt = filters.get(param)
            sig = _signature(flt) if flt is not None else (param,)
            if sig in seen and param not in ("q", "tag"):
                continue
            seen.add(sig)
            values = QUERY_GARBAGE
            for value in values:
                _check(api.get(f"/api/{path}/?{param}={value}"), (path, param, value))
        _check(api.get(f"/api/{path}/?offset=99999999999999999999&limit=5"), (path, "offset"))
        _check(api.get(f"/api/{path}/?ordering=-nonexistent,,name"), (path, "ordering"))
    for pk in ("99999999999999999999999", "-1", "0", "%00", "1.5", "²"):
        _check(api.get(f"/api/dcim/devices/{pk}/"), ("detail", pk))
        _check(api.patch(f"/api/dcim/devices/{pk}/", {"name": "x"}, format="json"), ("patch", pk))
        _check(api.delete(f"/api/dcim/devices/{pk}/"), ("delete", pk))
