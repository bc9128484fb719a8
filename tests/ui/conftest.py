"""Fixtures for the web-UI tests: a small world (tests/factories.py) and logged-in clients."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clear_cache() -> Any:
    cache.clear()  # login rate-limit counters
    yield
    cache.clear()


@pytest.fixture
def world(db: Any) -> Any:
    from tests.factories import world as make_world

    return make_world()


@pytest.fixture
def admin_client(client: Any, superuser: Any) -> Any:
    client.force_login(superuser)
    return client


@pytest.fixture
def grant(make_user: Any) -> Any:
    """``grant("alice", ["dcim.device"], ["view"], tenants=[t])`` -> a logged-in test client for a new user."""
    from django.test import Client

    from cmdb.users.models import ObjectPermission

    def make(username: str, object_types: list[str], actions: list[str], tenants: list[Any] = ()) -> Client:
        user = make_user(username)
        perm = ObjectPermission.objects.create(name=f"{username}-perm", object_types=object_types, actions=actions)
        perm.users.add(user)
        if tenants:
            perm.tenants.add(*tenants)
        c = Client()
        c.force_login(user)
        c.user = user
        return c

    return make
