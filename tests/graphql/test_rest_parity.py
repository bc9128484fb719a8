"""GraphQL answers against REST answers: the same objects, fields and nested objects for the same reader.

Three readers: a superuser, a tenant-limited user (view on everything of tenant A) and a user
without grants (REST answers 403; GraphQL reports the list field as FORBIDDEN).  Every served
model's list is compared field by field; then filters, pagination and single objects.
"""

from __future__ import annotations

from typing import Any

import pytest

from cmdb.api.registry import endpoint_path

from .conftest import GQL
from .helpers import differences, selection, served

READERS = ["superuser", "tenant", "nobody"]


@pytest.mark.parametrize("reader", READERS)
def test_every_list_matches_rest(reader: str, full_world: Any, readers: dict[str, Any], client_for: Any) -> None:
    client = client_for(readers[reader], write=False)
    gql = GQL(client)
    problems: list[str] = []
    compared = 0
    for item in served():
        rest = client.get(f"/api/{endpoint_path(item.model)}/?limit=0")
        answer = gql(f"{{ {item.base}_list {{ {selection(item)} }} }}")
        if rest.status_code == 403:
            codes = [e["extensions"]["code"] for e in answer.get("errors", [])]
            if codes != ["FORBIDDEN"] or answer["data"][f"{item.base}_list"] is not None:
                problems.append(f"{item.base}: REST 403, GraphQL {answer}")
            continue
        assert rest.status_code == 200, (item.base, rest.content[:300])
        assert "errors" not in answer, (item.base, answer["errors"])
        rows = rest.json()["results"]
        problems += differences(item, rows, answer["data"][f"{item.base}_list"])
        compared += len(rows)
    assert not problems, "\n".join(problems)
    if reader == "nobody":
        assert compared == 0
    else:
        assert compared > 40  # the comparison saw real rows of many models


def _ids(rows: list[dict[str, Any]]) -> list[str]:
    return [str(r["id"]) for r in rows]


FILTERS = [
    ("{status: STATUS_PLANNED}", "status=planned"),
    ('{name: {i_contains: "WEB"}}', "name__ic=WEB"),
    ('{name: {i_starts_with: "web"}, NOT: {name: {exact: "web02"}}}', "name__isw=web&name__n=web02"),
    ('{site: {slug: {exact: "zittau"}}}', "site=zittau"),
    ('{tags: {slug: {exact: "red"}}}', "tag=red"),
    ('{serial: {exact: "SN-WEB01"}}', "serial=SN-WEB01"),
    ('{serial: {in_list: ["SN-WEB01", "SN-SW01"]}}', "serial=SN-WEB01&serial=SN-SW01"),
    ('{asset_tag: {exact: "INV-0001"}}', "asset_tag=INV-0001"),
    ("{NOT: {status: STATUS_ACTIVE}}", "status__n=active"),
    ('{role: {slug: {exact: "switch"}}}', "role=switch"),
    ('{created: {gte: "2000-01-01T00:00:00+00:00"}}', "created__gte=2000-01-01T00:00:00Z"),
]


@pytest.mark.parametrize("reader", ["superuser", "tenant"])
@pytest.mark.parametrize(("graphql", "rest"), FILTERS)
def test_device_filters_match_rest(reader: str, graphql: str, rest: str, full_world: Any, readers: dict[str, Any],
                                   client_for: Any) -> None:
    client = client_for(readers[reader], write=False)
    expected = client.get(f"/api/dcim/devices/?limit=0&{rest}")
    assert expected.status_code == 200, expected.content
    data = GQL(client).data(f"{{ device_list(filters: {graphql}) {{ id }} }}")
    assert _ids(data["device_list"]) == _ids(expected.json()["results"])


@pytest.mark.parametrize("reader", ["superuser", "tenant"])
def test_filters_by_id_and_or_match_rest(reader: str, full_world: Any, readers: dict[str, Any],
                                         client_for: Any) -> None:
    w = full_world
    client = client_for(readers[reader], write=False)
    gql = GQL(client)
    for graphql, rest in [
        (f"{{site_id: {w.zittau.pk}}}", f"site_id={w.zittau.pk}"),
        (f'{{tenant_id: "{w.tenant_a.pk}"}}', f"tenant_id={w.tenant_a.pk}"),
        (f"{{id: {w.devices['sw01'].pk}}}", f"id={w.devices['sw01'].pk}"),
    ]:
        expected = client.get(f"/api/dcim/devices/?limit=0&{rest}").json()["results"]
        assert _ids(gql.data(f"{{ device_list(filters: {graphql}) {{ id }} }}")["device_list"]) == _ids(expected)
    # OR: the union of both conditions, as REST answers them one by one.
    either = gql.data('{ device_list(filters: {status: STATUS_PLANNED, OR: {name: {exact: "sw01"}}}) { id } }')
    planned = client.get("/api/dcim/devices/?limit=0&status=planned").json()["results"]
    sw01 = client.get("/api/dcim/devices/?limit=0&name=sw01").json()["results"]
    assert sorted(_ids(either["device_list"])) == sorted(set(_ids(planned)) | set(_ids(sw01)))
    # Other models' filters: addresses and VMs.
    data = gql.data('{ ip_address_list(filters: {status: STATUS_ACTIVE, dns_name: {i_ends_with: "example.org"}}) '
                    '{ id } virtual_machine_list(filters: {memory: {gte: 5000}}) { id } }')
    rest_ips = client.get("/api/ipam/ip-addresses/?limit=0&status=active&dns_name__iew=example.org").json()
    rest_vms = client.get("/api/virtualization/virtual-machines/?limit=0&memory__gte=5000").json()
    assert _ids(data["ip_address_list"]) == _ids(rest_ips["results"])
    assert _ids(data["virtual_machine_list"]) == _ids(rest_vms["results"])


@pytest.mark.parametrize("reader", ["superuser", "tenant"])
def test_pagination_matches_rest(reader: str, full_world: Any, readers: dict[str, Any], client_for: Any) -> None:
    client = client_for(readers[reader], write=False)
    gql = GQL(client)
    total = client.get("/api/dcim/devices/?limit=0").json()["count"]
    assert total >= 3
    for offset, limit in [(0, 2), (1, 2), (2, 50), (total, 5)]:
        rest = client.get(f"/api/dcim/devices/?limit={limit}&offset={offset}").json()["results"]
        data = gql.data(f"{{ device_list(pagination: {{offset: {offset}, limit: {limit}}}) {{ id name }} }}")
        assert data["device_list"] == [{"id": str(r["id"]), "name": r["name"]} for r in rest]
    # Pages in sequence cover the list exactly once, in REST's order.
    pages = [gql.data(f"{{ device_list(pagination: {{offset: {o}, limit: 2}}) {{ id }} }}")["device_list"]
             for o in range(0, total, 2)]
    everything = client.get("/api/dcim/devices/?limit=0").json()["results"]
    assert [d["id"] for page in pages for d in page] == _ids(everything)


@pytest.mark.parametrize("reader", ["superuser", "tenant"])
def test_single_objects_match_rest(reader: str, full_world: Any, readers: dict[str, Any], client_for: Any) -> None:
    client = client_for(readers[reader], write=False)
    gql = GQL(client)
    checked = 0
    for item in served():
        listed = client.get(f"/api/{endpoint_path(item.model)}/?limit=0")
        if listed.status_code == 403:  # compared in test_every_list_matches_rest
            continue
        for row in listed.json()["results"][:2]:
            rest = client.get(f"/api/{endpoint_path(item.model)}/{row['id']}/").json()
            data = gql.data(f"{{ {item.base}(id: {row['id']}) {{ {selection(item)} }} }}")
            assert differences(item, [rest], [data[item.base]]) == []
            checked += 1
    assert checked > 30
    # What REST does not find for this reader (404), GraphQL does not either.
    hidden = full_world.devices["db01"]  # tenant B's
    rest = client.get(f"/api/dcim/devices/{hidden.pk}/")
    answer = gql(f"{{ device(id: {hidden.pk}) {{ name }} }}")
    if reader == "tenant":
        assert rest.status_code == 404
        assert answer["data"] == {"device": None}
        assert answer["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    else:
        assert rest.status_code == 200 and answer["data"]["device"]["name"] == "db01"
