"""Small helpers shared by the API contract tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

# Every list endpoint of the NetBox-shared apps (and ours that follow the same conventions).
MODEL_ENDPOINTS = [
    "dcim/sites", "dcim/locations", "dcim/racks", "dcim/manufacturers", "dcim/device-types",
    "dcim/interface-templates", "dcim/device-roles", "dcim/platforms", "dcim/devices", "dcim/interfaces",
    "ipam/prefixes", "ipam/ip-addresses",
    "virtualization/cluster-types", "virtualization/cluster-groups", "virtualization/clusters",
    "virtualization/virtual-machines", "virtualization/interfaces",
    "tenancy/tenant-groups", "tenancy/tenants", "tenancy/contact-roles", "tenancy/contacts",
    "tenancy/contact-assignments",
    "extras/tags", "extras/custom-fields", "extras/journal-entries", "extras/object-changes",
    "core/object-changes", "core/configuration-items",
    "users/users", "users/tokens", "users/permissions",
]
EMPTY_ENDPOINTS = ["dcim/regions", "dcim/site-groups", "dcim/rack-roles", "ipam/services", "ipam/vrfs"]


def ok(response: Any, status: int = 200) -> Any:
    """The JSON body, after checking the status (showing the body when it is wrong)."""
    assert response.status_code == status, (response.status_code, response.content[:2000])
    return response.json() if response.content else None


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def assert_list_shape(body: Any) -> None:
    assert isinstance(body, dict)
    assert set(body) >= {"count", "next", "previous", "results"}
    assert isinstance(body["count"], int)
    assert isinstance(body["results"], list)
    for key in ("next", "previous"):
        assert body[key] is None or body[key].startswith("http://")


def assert_nested(value: Any, path: str, pk: int, **fields: Any) -> None:
    """A related object in NetBox's brief form, with a URL pynetbox can follow."""
    assert isinstance(value, dict), value
    assert value["id"] == pk
    assert value["url"].startswith("http://")
    assert urlsplit(value["url"]).path == f"/api/{path}/{pk}/"
    assert isinstance(value["display"], str) and value["display"]
    for key, expected in fields.items():
        assert value[key] == expected, (key, value)


def names(body: Any, key: str = "name") -> list[Any]:
    return sorted(r[key] for r in body["results"])
