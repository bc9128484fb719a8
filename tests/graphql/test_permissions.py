"""Nothing the REST API hides leaks through GraphQL: nested objects, nested lists, filters, generic targets.

The reader here is tenant A's: first with view on everything of tenant A, then with view on
devices only (so other models' rows are not theirs to view in their own right).
"""

from __future__ import annotations

from typing import Any

import pytest

from cmdb.users.models import ObjectPermission

from .conftest import GQL


def _user_with(make_user: Any, name: str, types: list[str], tenants: list[Any]) -> Any:
    user = make_user(name)
    perm = ObjectPermission.objects.create(name=f"{name} view", object_types=types, actions=["view"])
    perm.users.set([user])
    perm.tenants.set(tenants)
    return user


@pytest.fixture
def devices_only(make_user: Any, full_world: Any) -> Any:
    return _user_with(make_user, "devices-only", ["dcim.device"], [full_world.tenant_a])


def test_a_nested_object_rest_hides_is_null(full_world: Any, readers: dict[str, Any], client_for: Any) -> None:
    """web03 is tenant A's but stands at tenant B's site: REST nests no site, GraphQL neither."""
    client = client_for(readers["tenant"], write=False)
    rest = client.get("/api/dcim/devices/?name=web03").json()["results"]
    assert rest and rest[0]["site"] is None and rest[0]["tenant"]["name"] == "Informatik"
    data = GQL(client).data('{ device_list(filters: {name: {exact: "web03"}}) { name site { name comments } '
                            'tenant { name } } }')
    assert data["device_list"] == [{"name": "web03", "site": None, "tenant": {"name": "Informatik"}}]
    # The superuser sees the site.
    data = GQL(client_for(readers["superuser"])).data(
        '{ device_list(filters: {name: {exact: "web03"}}) { site { name comments } } }')
    assert data["device_list"] == [{"site": {"name": "Bautzen", "comments": "tenant B's site"}}]


def test_more_than_the_brief_form_needs_view_permission(full_world: Any, devices_only: Any,
                                                        client_for: Any) -> None:
    """REST nests web01's site (brief form: id, name, slug ...) for a reader who may not list sites;
    GraphQL shows the same, but the site's other fields only to readers who may view the site."""
    client = client_for(devices_only, write=False)
    assert client.get("/api/dcim/sites/").status_code == 403
    rest = client.get("/api/dcim/devices/?name=web01").json()["results"][0]
    assert rest["site"]["name"] == "Zittau"
    gql = GQL(client)
    brief = gql.data('{ device_list(filters: {name: {exact: "web01"}}) { site { id name slug display } } }')
    assert brief["device_list"][0]["site"] == {"id": str(full_world.zittau.pk), "name": "Zittau", "slug": "zittau",
                                               "display": "Zittau"}
    more = gql.data('{ device_list(filters: {name: {exact: "web01"}}) { site { name facility devices { name } } } }')
    assert more["device_list"][0]["site"] is None
    answer = gql("{ site_list { name } }")
    assert answer["data"] == {"site_list": None}
    assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert answer["errors"][0]["message"] == "You may not view sites."


def test_nested_lists_show_only_rows_the_reader_may_view(full_world: Any, readers: dict[str, Any],
                                                         client_for: Any) -> None:
    from tests import factories

    w = full_world
    factories.device("b-at-zittau", at=w.zittau, dtype=w.r650, as_role=w.server, tenant=w.tenant_b)
    client = client_for(readers["tenant"], write=False)
    rest = client.get(f"/api/dcim/devices/?site_id={w.zittau.pk}&limit=0").json()["results"]
    data = GQL(client).data(f"{{ site(id: {w.zittau.pk}) {{ devices {{ name }} }} }}")
    assert [d["name"] for d in data["site"]["devices"]] == [r["name"] for r in rest] == ["web01", "web02"]
    everything = GQL(client_for(readers["superuser"])).data(f"{{ site(id: {w.zittau.pk}) {{ devices {{ name }} }} }}")
    assert [d["name"] for d in everything["site"]["devices"]] == ["b-at-zittau", "web01", "web02"]


def test_filters_cannot_probe_what_the_reader_may_not_see(full_world: Any, devices_only: Any, superuser: Any,
                                                          client_for: Any) -> None:
    w = full_world
    client = client_for(devices_only, write=False)
    gql = GQL(client)
    # web03 (tenant A) stands at Bautzen (tenant B): neither its name, its id nor its comments find it.
    assert client.get("/api/dcim/devices/?site=bautzen").status_code == 400
    for condition in ['{site: {name: {exact: "Bautzen"}}}', f"{{site_id: {w.bautzen.pk}}}",
                      '{site: {comments: {contains: "tenant B"}}}']:
        assert gql.data(f"{{ device_list(filters: {condition}) {{ name }} }}") == {"device_list": []}, condition
    # Zittau is referable (REST's ?site=zittau works), but its comments are not the reader's to search.
    assert gql.data('{ device_list(filters: {site: {name: {exact: "Zittau"}}}) { name } }') == {
        "device_list": [{"name": "web01"}, {"name": "web02"}]}
    w.zittau.comments = "campus core"
    w.zittau.save()
    assert gql.data('{ device_list(filters: {site: {comments: {contains: "core"}}}) { name } }') == {
        "device_list": []}
    everything = GQL(client_for(superuser)).data(
        '{ device_list(filters: {site: {comments: {contains: "core"}}}) { name } }')
    assert len(everything["device_list"]) == 2


def test_an_address_on_another_tenants_interface_hides_its_assignment(full_world: Any, readers: dict[str, Any],
                                                                      client_for: Any) -> None:
    from cmdb.dcim.models import Interface
    from tests import factories

    w = full_world
    theirs = Interface.objects.get(device=w.devices["db01"], name="eth0")  # tenant B's device
    factories.ip("10.9.0.1/24", tenant=w.tenant_a, interface=theirs)
    client = client_for(readers["tenant"], write=False)
    rest = client.get("/api/ipam/ip-addresses/?address=10.9.0.1/24").json()["results"][0]
    assert (rest["assigned_object_type"], rest["assigned_object_id"], rest["assigned_object"]) == (None, None, None)
    data = GQL(client).data('{ ip_address_list(filters: {address: {exact: "10.9.0.1/24"}}) { address '
                            "assigned_object_type { model } assigned_object_id "
                            "assigned_object { ... on InterfaceType { name } } } }")
    assert data["ip_address_list"] == [{"address": "10.9.0.1/24", "assigned_object_type": None,
                                        "assigned_object_id": None, "assigned_object": None}]
    data = GQL(client_for(readers["superuser"])).data(
        '{ ip_address_list(filters: {address: {exact: "10.9.0.1/24"}}) { assigned_object_id '
        "assigned_object { __typename ... on InterfaceType { name device { name } } } } }")
    assert data["ip_address_list"] == [{"assigned_object_id": theirs.pk, "assigned_object": {
        "__typename": "InterfaceType", "name": "eth0", "device": {"name": "db01"}}}]


def test_a_reader_without_grants_gets_errors_not_data(full_world: Any, readers: dict[str, Any],
                                                      client_for: Any) -> None:
    answer = GQL(client_for(readers["nobody"]))(
        f"{{ device_list {{ name }} device(id: {full_world.devices['web01'].pk}) {{ name }} __typename }}")
    assert answer["data"] == {"device_list": None, "device": None, "__typename": "Query"}
    assert [(e["path"], e["extensions"]["code"]) for e in answer["errors"]] == [
        (["device_list"], "FORBIDDEN"), (["device"], "FORBIDDEN")]


def test_change_authors_are_nested_for_readers_who_may_see_them(full_world: Any, readers: dict[str, Any],
                                                                 client_for: Any) -> None:
    """REST names a change's author to every reader of the change ({id, username}); GraphQL nests the
    user only for readers who may see users (their account's e-mail and flags are for administrators),
    and ``user_name`` carries the name for everyone."""
    query = ('{ object_change_list(filters: {user_name: {exact: "editor"}}) '
             "{ object_repr user_name user { username } } }")
    tenant = client_for(readers["tenant"], write=False)
    rest = tenant.get("/api/core/object-changes/?user_name=editor").json()["results"]
    assert [(r["object_repr"], r["user"]["username"]) for r in rest] == [("web01", "editor")]  # not the tag
    assert GQL(tenant).data(query)["object_change_list"] == [
        {"object_repr": "web01", "user_name": "editor", "user": None}]
    everything = GQL(client_for(readers["superuser"])).data(query)["object_change_list"]
    assert {("web01", "editor"), ("Green", "editor")} <= {(c["object_repr"], c["user"]["username"]) for c in everything}
