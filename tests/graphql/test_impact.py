"""``impact`` and ``dependencies`` answer as ``/api/services/impact/`` and ``/api/services/stack/`` do."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from cmdb.tenancy.models import Contact, ContactAssignment, ContactRole, Tenant
from tests.services.graphs import G
from tests.users.test_permissions import grant

from .conftest import GQL

PATH = "path path_names via"
IMPACT = f"""query($ci: [ID!]!, $mode: ImpactMode, $limit: Int) {{
  impact(ci: $ci, mode: $mode, limit: $limit) {{
    mode
    summary {{ affected down degraded services hidden }}
    failed {{ ci_id kind name }}
    affected {{ ci_id kind name state criticality tenant_id {PATH} reason }}
    services {{ id ci_id name slug service_type criticality state sla_availability support_hours
               downtime_budget_minutes_per_month {PATH} }}
    tenants {{ id name slug }}
    contacts {{ id name email phone tenant_id roles }}
  }}
}}"""
STACK = f"""query($ci: [ID!]!) {{
  dependencies(ci: $ci) {{
    roots {{ ci_id kind name }}
    dependencies {{ ci_id kind name criticality tenant_id depth {PATH} }}
    hidden_count
  }}
}}"""


@pytest.fixture
def scene(db: Any, make_user: Any, superuser: Any) -> Any:
    """Two faculties' portals on their databases on central storage behind a 1-of-2 switch pair."""
    cs = Tenant.objects.create(name="CS", slug="cs")
    hr = Tenant.objects.create(name="HR", slug="hr")
    contact = Contact.objects.create(name="Dana Admin", email="dana@example.org", tenant=cs)
    ContactAssignment.objects.create(object=cs, contact=contact, role=ContactRole.objects.create(name="Admin",
                                                                                                 slug="admin"))
    g = G()
    g.ci("core1")
    g.ci("core2")
    g.group("core-pair", 1, ["core1", "core2"])
    g.ci("storage", tenant=None)
    g.edge("storage", "connected_to", "core-pair")
    g.ci("cs-db", kind="virtualization.virtualmachine", tenant=cs)
    g.ci("hr-db", kind="virtualization.virtualmachine", tenant=hr)
    g.service("cs-portal", tenant=cs)
    g.service("hr-portal", tenant=hr, sla="99.9")
    g.edge("cs-db", "depends_on", "storage")
    g.edge("hr-db", "depends_on", "storage")
    g.edge("cs-portal", "depends_on", "cs-db")
    g.edge("hr-portal", "depends_on", "hr-db")
    cs_admin = make_user("cs-admin")
    grant(types=["virtualization.virtualmachine", "services.service", "dcim.device"], actions=["view"],
          users=[cs_admin], tenants=[cs])
    users = {"superuser": superuser, "cs-admin": get_user_model().objects.get(pk=cs_admin.pk),
             "nobody": make_user("nobody")}
    return g, users


CASES = [(["storage"], "DOWN", None), (["core1", "core2"], "DOWN", None), (["core1"], "DOWN", None),
         (["cs-db"], "DEGRADED", None), (["storage"], "DOWN", 1)]


@pytest.mark.parametrize("reader", ["superuser", "cs-admin", "nobody"])
def test_impact_matches_the_rest_endpoint(scene: Any, reader: str, client_for: Any) -> None:
    g, users = scene
    client = client_for(users[reader], write=False)
    gql = GQL(client)
    answered = 0
    for names, mode, limit in [*CASES, (["cs-portal"], "DOWN", None)]:
        ids = [g[n] for n in names]
        params: dict[str, Any] = {"ci": ids, "mode": mode.lower()}
        if limit:
            params["limit"] = limit
        rest = client.get("/api/services/impact/", params)
        answer = gql(IMPACT, {"ci": [str(i) for i in ids], "mode": mode, "limit": limit}, status=200)
        if rest.status_code == 400:
            assert answer["data"] == {"impact": None}
            assert answer["errors"][0]["message"] == f"ci: {rest.json()['ci'][0]}"
            continue
        assert rest.status_code == 200, rest.content
        assert answer["data"]["impact"] == rest.json(), names
        answered += 1
    assert answered == {"superuser": 6, "cs-admin": 2, "nobody": 0}[reader]


@pytest.mark.parametrize("reader", ["superuser", "cs-admin"])
def test_dependencies_match_the_stack_endpoint(scene: Any, reader: str, client_for: Any) -> None:
    g, users = scene
    client = client_for(users[reader], write=False)
    for names in (["cs-portal"], ["cs-portal", "cs-db"]):
        ids = [g[n] for n in names]
        rest = client.get("/api/services/stack/", {"ci": ids})
        assert rest.status_code == 200
        data = GQL(client).data(STACK, {"ci": ids})
        assert data["dependencies"] == rest.json()
        hidden = 0 if reader == "superuser" else 4  # storage, the switch pair and both switches
        assert data["dependencies"]["hidden_count"] == hidden


def test_only_the_selected_parts_are_computed(scene: Any, gql: GQL) -> None:
    g, _users = scene
    data = gql.data(f'{{ impact(ci: ["{g["storage"]}"]) {{ summary {{ down }} services {{ name state }} }} }}')
    assert data == {"impact": {"summary": {"down": 4}, "services": [
        {"name": "cs-portal", "state": "down"}, {"name": "hr-portal", "state": "down"}]}}
