"""Fixtures for the GraphQL tests: a client that posts queries, and the API tests' small world."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class GQL:
    """Posts GraphQL requests with one client (token or session) and returns the decoded answer."""

    def __init__(self, client: APIClient) -> None:
        self.client = client

    def post(self, query: str, variables: dict[str, Any] | None = None, **extra: Any) -> Any:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        body.update(extra)
        return self.client.post("/graphql/", body, format="json")

    def __call__(self, query: str, variables: dict[str, Any] | None = None, status: int = 200) -> dict[str, Any]:
        response = self.post(query, variables)
        assert response.status_code == status, (response.status_code, response.content[:2000])
        return response.json()

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ``data`` of an answer that must have no errors."""
        answer = self(query, variables)
        assert "errors" not in answer, answer["errors"]
        return answer["data"]


@pytest.fixture
def gql(api: APIClient) -> GQL:
    """GraphQL as the token-authenticated superuser."""
    return GQL(api)


@pytest.fixture
def gql_for(client_for: Callable[..., APIClient]) -> Callable[..., GQL]:
    def make(user: Any, **kwargs: Any) -> GQL:
        return GQL(client_for(user, **kwargs))

    return make


@pytest.fixture
def world(db: Any) -> Any:
    from tests.factories import world

    return world()


@pytest.fixture
def full_world(world: Any) -> Any:
    """The API tests' world plus one object of every other served model, and a tenant-A device at a
    tenant-B site (so that a tenant-A reader sees the device but not its site)."""
    from django.contrib.contenttypes.models import ContentType

    from cmdb.extras.configcontexts import ConfigContext
    from cmdb.extras.models import CustomField, JournalEntry
    from tests import factories
    from tests.services.world import add_software_and_services

    add_software_and_services(world)
    factories.contact_assignment(world)
    bautzen = factories.site("Bautzen", tenant=world.tenant_b, comments="tenant B's site")
    world.bautzen = bautzen
    world.devices["web03"] = factories.device("web03", at=bautzen, dtype=world.r650, as_role=world.server,
                                              tenant=world.tenant_a, serial="SN-WEB03")
    JournalEntry.objects.create(assigned_object_type=ContentType.objects.get_for_model(world.devices["web01"]),
                                assigned_object_id=world.devices["web01"].pk, kind="info", comments="racked")
    context = ConfigContext.objects.create(name="ntp", weight=100, data={"ntp": ["10.0.0.1"]})
    context.sites.set([world.zittau])
    CustomField.objects.create(name="cost_center", object_types=["dcim.device"], type="text")
    _changes_by_api(world)
    return world


def _changes_by_api(world: Any) -> None:
    """Change records with a user: one for a tenant-A device, one for shared data (a tag)."""
    from django.contrib.auth import get_user_model

    from cmdb.users.services import token_create

    editor = get_user_model().objects.create_superuser("editor", password="correct-horse-battery")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=editor, write_enabled=True)[1]}")
    r = client.patch(f"/api/dcim/devices/{world.devices['web01'].pk}/", {"description": "racked in R1"},
                     format="json")
    assert r.status_code == 200, r.content
    assert client.post("/api/extras/tags/", {"name": "Green", "slug": "green"}, format="json").status_code == 201


@pytest.fixture
def readers(db: Any, make_user: Callable[..., Any], superuser: Any, world: Any) -> dict[str, Any]:
    """The three readers every comparison runs for: a superuser, a user who may view everything of
    tenant A (and shared reference data), and a user without any grant."""
    from cmdb.users.models import ObjectPermission

    tenant_user = make_user("faculty-a")
    perm = ObjectPermission.objects.create(name="view tenant A", object_types=["*"], actions=["view"])
    perm.users.set([tenant_user])
    perm.tenants.set([world.tenant_a])
    return {"superuser": superuser, "tenant": tenant_user, "nobody": make_user("nobody")}
