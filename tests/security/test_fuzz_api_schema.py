"""Schemathesis against the OpenAPI schema: no request to any operation causes a server error.

The schema is the one the API serves (``/api/schema/?format=json``), loaded through the WSGI
application by a fixture once the test database exists (the schema lists the custom-field filters,
so building it reads the database); every operation of it (lists with their filters,
details, detail actions, create, update, partial update, delete, bulk writes) becomes one test,
run twice: with a superuser's token and with the token of tenant A's administrator (a user whose
grants are limited to one tenant, see ``conftest.py``).  Schemathesis generates requests that
follow the schema and requests that break it (wrong types, missing fields, out-of-range numbers,
odd strings); the only check is ``not_a_server_error``: a 5xx fails the build.

Requests go through the WSGI handler in this process (no server), so each example runs in a
savepoint of the test's transaction and is rolled back afterwards: a DELETE does not take the
object away from the next example, and a failure replays on the same data.  The data is the
scope walk's world (``test_scope_walk.SAMPLES``: an object of every model, per tenant), built
once for the module; a detail operation's ``{id}`` is the id of that model's sample of tenant A
(or the shared one), so updates and deletes reach real rows instead of a 404.

Bounded for CI: the fuzzing and examples phases, ``SCHEMATHESIS_EXAMPLES`` examples per
operation (default 5 for the superuser, 2 for the tenant admin) and a fixed seed, so CI is
deterministic and a failure replays.  For a longer hunt: ``SCHEMATHESIS_EXAMPLES=100``,
``SCHEMATHESIS_SEED=random`` and ``SCHEMATHESIS_COVERAGE=1`` (schemathesis' boundary-value phase,
about two thousand requests for a list with many filters).
"""

from __future__ import annotations

import os
import random
from collections import Counter
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "5"))
_seed = os.environ.get("SCHEMATHESIS_SEED", "20260112")
SEED = random.randrange(2**32) if _seed == "random" else int(_seed)

CONFIG = schemathesis.Config.from_dict({
    "seed": SEED,
    "generation": {"max-examples": EXAMPLES, "deterministic": _seed != "random"},
    "phases": {
        "coverage": {"enabled": os.environ.get("SCHEMATHESIS_COVERAGE") == "1"},
        "stateful": {"enabled": False},
    },
})
schema = schemathesis.pytest.from_fixture("api_schema")

#: Status codes seen per (who, method, path): the sanity test below checks the run is not vacuous.
SEEN: dict[tuple[str, str, str], Counter[int]] = {}


class _Rollback(Exception):
    """Ends an example's savepoint."""


@pytest.fixture(scope="module")
def api_world(django_db_setup: Any, django_db_blocker: Any) -> Any:
    """The scope walk's world with a read-write token for a superuser and for tenant A's admin.

    Built once, in a transaction that is rolled back when the module ends (each test's own
    transaction, and each example's savepoint, nest inside it).
    """
    from django.contrib.auth import get_user_model

    from cmdb.users.services import token_create

    from .conftest import build_world
    from .test_scope_walk import add_samples

    # Django closes the database connection at the end of every request it handles; its test client
    # turns that off, and so must a WSGI caller, or the first request would end the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with django_db_blocker.unblock(), transaction.atomic():
            w = add_samples(build_world())
            root = get_user_model().objects.create_superuser("fuzz-root", password="correct-horse-battery")
            w.tokens = {"root": token_create(user=root, write_enabled=True)[1],
                        "alice": token_create(user=w.alice, write_enabled=True)[1]}
            w.detail_ids = {}
            yield w
            transaction.set_rollback(True)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def api_schema(api_world: Any, django_db_blocker: Any) -> Any:
    """The served schema, loaded inside the world's transaction (its custom fields are in the schema)."""
    with django_db_blocker.unblock():
        return schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application(), config=CONFIG)


def _sample_id(w: Any, path: str) -> int | None:
    """The id of the sample of the model a detail path serves (tenant A's, or the shared one)."""
    from cmdb.core.scope import scope_of

    from .test_scope_walk import get

    if path not in w.detail_ids:
        try:
            match = resolve(path.replace("{id}", "1"))
        except Resolver404:
            match = None
        cls = getattr(getattr(match, "func", None), "cls", None)
        queryset = getattr(cls, "queryset", None)
        pk = None
        if queryset is not None:
            model = queryset.model
            side = "s" if scope_of(model).kind in ("shared", "admin") else "a"
            try:
                pk = get(w, model._meta.label_lower, side).pk
            except LookupError:
                pk = None
        w.detail_ids[path] = pk
    return w.detail_ids[path]


def _call(case: Any, w: Any, who: str) -> Any:
    params = case.path_parameters or {}
    if isinstance(params.get("id"), int) and not isinstance(params.get("id"), bool):
        pk = _sample_id(w, case.path)
        if pk is not None:
            params["id"] = pk
    try:
        with transaction.atomic():
            response = case.call(headers={"Authorization": f"Token {w.tokens[who]}"})
            raise _Rollback(response)
    except _Rollback as done:
        response = done.args[0]
    SEEN.setdefault((who, case.method.upper(), case.path), Counter())[response.status_code] += 1
    return response


FUZZ_SETTINGS = settings(deadline=None, suppress_health_check=list(HealthCheck))


@schema.parametrize()
@FUZZ_SETTINGS
@pytest.mark.django_db
def test_superuser_never_gets_a_server_error(case: Any, api_world: Any) -> None:
    case.validate_response(_call(case, api_world, "root"), checks=[not_a_server_error])


@schema.parametrize()
@settings(FUZZ_SETTINGS, max_examples=max(1, EXAMPLES * 2 // 5))
@pytest.mark.django_db
def test_tenant_admin_never_gets_a_server_error(case: Any, api_world: Any) -> None:
    case.validate_response(_call(case, api_world, "alice"), checks=[not_a_server_error])


def test_the_run_reached_the_operations() -> None:
    """Not vacuous: most operations answered a success at least once (a broken token would make all 401)."""
    if not SEEN:
        pytest.skip("run together with the schemathesis tests above")
    ok = {(who, method, path) for (who, method, path), codes in SEEN.items() if any(c < 300 for c in codes)}
    root_gets = {k for k in SEEN if k[0] == "root" and k[1] == "GET"}
    assert len(ok & root_gets) >= 0.9 * len(root_gets), sorted(root_gets - ok)

