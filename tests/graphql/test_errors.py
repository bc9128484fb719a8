"""Bad requests get GraphQL errors (or a 4xx) naming the problem, never a 500; limits hold.

The hypothesis tests throw random documents, bodies and filter values at the endpoint; the
fixed cases check the messages a user sees.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from graphql import get_introspection_query
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import GQL

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _ok_or_4xx(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 400), (response.status_code, response.content[:500])
    body = json.loads(response.content)
    if response.status_code == 400 and "errors" in body:
        assert body["errors"] and all(isinstance(e["message"], str) for e in body["errors"])
    return body


@pytest.mark.parametrize(("body", "detail"), [
    ("{not json", "JSON parse error"), ('["a list"]', "Send a JSON object"), ('"text"', "Send a JSON object"),
])
def test_malformed_bodies_are_400(gql: GQL, body: str, detail: str) -> None:
    r = gql.client.post("/graphql/", body, content_type="application/json")
    assert r.status_code == 400 and detail in r.json()["detail"]


@pytest.mark.parametrize(("query", "message"), [
    (None, "Send a query"),
    ("", "Send a query"),
    ("{ device_list { name }", "Syntax Error"),
    ("{ device_list { nope } }", "Cannot query field 'nope' on type 'DeviceType'"),
    ("{ device_list(filters: {colour: {exact: 1}}) { name } }", "colour"),
    ("{ device_list(filters: {status: ACTIVE}) { name } }", "DeviceStatusEnum"),
    ("{ device(id: 1) }", "must have a selection of subfields"),
    ("mutation { device_list { name } }", "read-only: only queries are served, not a mutation"),
    ("subscription { device_list { name } }", "not a subscription"),
    ("query A { site_list { name } } query B { site_list { slug } }", "operationName"),
])
def test_invalid_documents_are_errors_naming_the_problem(gql: GQL, query: Any, message: str) -> None:
    body = _ok_or_4xx(gql.post(query))
    assert "data" not in body or body["data"] is None
    assert any(message in e["message"] for e in body["errors"]), body


def test_variables_are_checked(gql: GQL, world: Any) -> None:
    query = "query($id: ID!, $f: DeviceFilter) { device(id: $id) { name } device_list(filters: $f) { name } }"
    body = _ok_or_4xx(gql.post(query, {"f": {"status": "STATUS_ACTIVE"}}))
    assert "$id" in body["errors"][0]["message"]
    body = _ok_or_4xx(gql.post(query, {"id": 1, "f": {"status": "ACTIVE"}}))
    assert "$f.status" in body["errors"][0]["message"]
    body = _ok_or_4xx(gql.post(query, [1, 2]))
    assert "variables must be a JSON object" in body["errors"][0]["message"]
    data = gql.data(query, {"id": world.devices["db01"].pk, "f": {"status": "STATUS_PLANNED"}})
    assert data == {"device": {"name": "db01"}, "device_list": [{"name": "db01"}]}


@pytest.mark.parametrize(("query", "message"), [
    ('{ device(id: "abc") { name } }', "id: 'abc' is not an object id."),
    ("{ device(id: 0) { name } }", "id: '0' is not an object id."),
    ('{ device(id: "99999999999999999999") { name } }', "is not an object id"),
    ('{ device_list(filters: {site_id: "x1"}) { name } }', "filters.site_id: 'x1' is not an object id."),
    ('{ device_list(filters: {name: {exact: "a\\u0000b"}}) { name } }', "NUL"),
    ('{ device_list(filters: {name: {regex: "("}}) { name } }', "regular expression"),
    ("{ device_list(pagination: {offset: -1}) { name } }", "pagination.offset: must not be negative."),
    ('{ device_list(filters: {created: {gte: "yesterday"}}) { name } }', "DateTime cannot represent"),
    ('{ virtual_machine_list(filters: {vcpus: {gt: "1e999999"}}) { name } }', "Decimal cannot represent"),
    ('{ device_list(filters: {ci_id: {exact: "99999999999999999999"}}) { name } }', "BigInt cannot represent"),
    ('{ impact(ci: ["core-zi-01"]) { mode } }', "ci: not a CI id: core-zi-01."),
    ("{ impact(ci: [999999]) { mode } }", "Unknown CI: 999999"),
])
def test_bad_values_are_errors_naming_the_argument(gql: GQL, world: Any, query: str, message: str) -> None:
    body = _ok_or_4xx(gql.post(query))
    assert any(message in e["message"] for e in body["errors"]), body


def test_depth_and_size_limits(gql: GQL, world: Any, settings: Any) -> None:
    ok = "{ device_list { site { tenant { group { parent { parent { parent { parent { name } } } } } } } } }"
    assert "errors" not in gql(ok)  # 9 levels
    deep = "{ device_list { site { tenant { group { parent { parent { parent { parent { parent { parent { name }" \
           " } } } } } } } } } }"
    body = _ok_or_4xx(gql.post(deep))
    assert body["errors"][0]["message"] == "The query is nested 11 levels deep; at most 10 are allowed."
    aliases = "{ " + " ".join(f"a{n}: site_list {{ name }}" for n in range(260)) + " }"
    body = _ok_or_4xx(gql.post(aliases))
    assert "selects 520 fields" in body["errors"][0]["message"]
    # Fragments that double at every level: refused by their expanded size, without expanding them.
    bomb = ["fragment F0 on SiteType { name }"]
    bomb += [f"fragment F{n} on SiteType {{ ...F{n - 1} a: tenant {{ id }} ...F{n - 1} }}" for n in range(1, 40)]
    body = _ok_or_4xx(gql.post("{ site_list { ...F39 } } " + " ".join(bomb)))
    assert "fields" in body["errors"][0]["message"]
    settings.GRAPHQL_MAX_DEPTH = 3
    from cmdb.graphql import execution

    execution._documents.clear()
    assert "3 are allowed" in _ok_or_4xx(gql.post("{ device_list { site { tenant { name } } } }"))["errors"][0][
        "message"]
    execution._documents.clear()


def test_nesting_beyond_the_parser_is_an_error(gql: GQL) -> None:
    body = _ok_or_4xx(gql.post("{" + "a{" * 3000 + "}" * 3001))
    assert body["errors"]
    deep_filter: dict[str, Any] = {}
    for _ in range(400):
        deep_filter = {"AND": deep_filter}
    body = _ok_or_4xx(gql.post("query($f: DeviceFilter) { device_list(filters: $f) { name } }", {"f": deep_filter}))
    assert body["errors"]


def test_introspection_for_graphiql_and_its_limit(gql: GQL) -> None:
    schema = gql.data(get_introspection_query(descriptions=True))["__schema"]
    names = {t["name"] for t in schema["types"]}
    assert {"DeviceType", "DeviceFilter", "StrFilterLookup", "DeviceStatusEnum", "ImpactType"} <= names
    nested = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
    body = _ok_or_4xx(gql.post(nested))
    assert "introspection query is too deep" in body["errors"][0]["message"]


def test_introspection_beside_data_answers_the_same_data(gql: GQL, world: Any) -> None:
    """An operation that also asks for introspection runs through graphql-core's executor: same data."""
    query = ("{ %s device_list { id name site { name } primary_ip4 { family { label } assigned_object { __typename "
             "... on InterfaceType { name device { name } } } } tags { slug } } }")
    plain = gql.data(query % "")
    mixed = gql.data(query % "__schema { queryType { name } } __typename")
    assert mixed.pop("__schema") == {"queryType": {"name": "Query"}} and mixed.pop("__typename") == "Query"
    assert mixed == plain
    web01 = next(d for d in plain["device_list"] if d["name"] == "web01")
    assert web01["primary_ip4"]["assigned_object"] == {
        "__typename": "InterfaceType", "name": "eth0", "device": {"name": "web01"}}


def test_server_page_size_and_object_budget(gql: GQL, world: Any, settings: Any) -> None:
    settings.MAX_PAGE_SIZE = 2
    answer = gql("{ device_list { name } }")
    assert len(answer["data"]["device_list"]) == 2
    assert answer["extensions"]["truncated"] == [
        {"path": ["device_list"], "limit": 2, "message": "More than 2 objects match: paginate to see the rest."}]
    answer = gql("{ device_list(pagination: {limit: 1000}) { name } }")
    assert len(answer["data"]["device_list"]) == 2 and answer["extensions"]["truncated"]
    exact = gql("{ device_list(pagination: {limit: 2, offset: 2}) { name } }")
    assert len(exact["data"]["device_list"]) == 2 and "extensions" not in exact  # asked for 2: nothing cut
    settings.MAX_PAGE_SIZE = 1000
    settings.GRAPHQL_MAX_OBJECTS = 5
    answer = gql("{ device_list { name interfaces { name } } site_list { name } }")
    assert answer["data"]["device_list"] is None and answer["data"]["site_list"] is not None
    assert answer["errors"][0]["extensions"]["code"] == "TOO_COMPLEX"


# --- fuzzing ---------------------------------------------------------------------------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                     st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
                     st.sampled_from(["STATUS_ACTIVE", "1", "x1", "2025-01-01", "2025-01-01T00:00:00", "(", "\x00"]))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["exact", "i_contains", "in_list", "range", "start", "end", "is_null", "regex", "gt", "slug",
                     "name", "AND", "OR", "NOT", "id", "site", "site_id", "tags", "status", "serial", "position",
                     "created", "interfaces", "enabled", "ci_id", "x"]), inner, max_size=3), max_leaves=12)


@FUZZ
@given(filters=st.dictionaries(st.sampled_from(["name", "status", "site", "site_id", "id", "tags", "position",
                                                "created", "serial", "AND", "OR", "NOT", "interfaces", "tenant"]),
                               _values, max_size=4),
       pagination=st.one_of(st.none(), st.dictionaries(st.sampled_from(["offset", "limit"]), _scalars, max_size=2)))
def test_fuzz_filter_variables(gql: GQL, world: Any, filters: Any, pagination: Any) -> None:
    query = "query($f: DeviceFilter, $p: OffsetPaginationInput) { device_list(filters: $f, pagination: $p) { id } }"
    _ok_or_4xx(gql.post(query, {"f": filters, "p": pagination}))


@FUZZ
@given(text=st.one_of(st.text(max_size=200), st.text(alphabet="{}()[]:$@!.,\"'#\\ \nabc_01", max_size=200)))
def test_fuzz_documents(gql: GQL, text: str) -> None:
    _ok_or_4xx(gql.post(text))
    _ok_or_4xx(gql.post("{ device_list(filters: {name: {exact: " + json.dumps(text) + "}}) { name } }"))


@FUZZ
@given(body=st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["query", "variables", "operationName", "x"]), inner, max_size=3), max_leaves=8))
def test_fuzz_bodies(gql: GQL, body: Any) -> None:
    r = gql.client.post("/graphql/", json.dumps(body), content_type="application/json")
    _ok_or_4xx(r)
