"""Shared fixtures.

Tests run against whatever ``DATABASE_URL`` names: SQLite by default,
PostgreSQL in CI (``.ci/run``).  Under ``CI=true`` a skipped test is a
failure, so a missing binary or service can never pass silently.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    in_ci = os.environ.get("CI", "").lower() == "true"
    if in_ci and report.skipped and call.when in ("setup", "call") and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"Skipped under CI=true (skips count as failures in CI): {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: Any):  # type: ignore[no-untyped-def]
    """A whole module skipped at import (``pytest.importorskip``, ``allow_module_level=True``) is a failure
    under ``CI=true`` too: otherwise a missing package would drop a file's tests without a trace."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI", "").lower() == "true" and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"Module skipped under CI=true (skips count as failures in CI): {report.longrepr}"


def _after_flush(sender: Any, **kwargs: Any) -> None:
    """Put back what a transactional test's flush removed, and forget what in-process caches kept of it.

    A test using ``transactional_db`` or ``live_server`` ends with a flush of every table, and Django
    then sends ``post_migrate``.  In one process pytest-django runs those tests last; with several
    workers (scripts/test) a worker runs whole files in any order, so a test after a flush must still
    find the built-in relationship types and role mappings the migrations seeded, and a cache of row
    ids (discovery's software versions) must not point at flushed rows.  The rows are written with
    ``bulk_create``, as the migrations do with their historical models: no change-log records, so the
    next test starts with an empty audit chain as after ``migrate``.
    """
    if getattr(sender, "label", "") != "services":  # once per flush: post_migrate is sent per app
        return
    import importlib

    from cmdb.core.hooks import writes_rolled_back
    from cmdb.services.models import GraphVersion, RelationshipType
    from k8s.models import RoleMapping

    types = importlib.import_module("cmdb.services.migrations.0002_builtin_relationship_types").BUILTIN
    mappings = importlib.import_module("k8s.migrations.0002_role_mappings").MAPPING
    RelationshipType.objects.bulk_create(
        [RelationshipType(slug=slug, name=name, inverse_name=inverse, propagation=propagation, builtin=True)
         for slug, name, inverse, propagation in types], ignore_conflicts=True)
    GraphVersion.objects.bulk_create([GraphVersion(pk=1)], ignore_conflicts=True)
    RoleMapping.objects.bulk_create([RoleMapping(contact_role=role, cluster_role=cluster_role)
                                     for role, cluster_role in mappings], ignore_conflicts=True)
    writes_rolled_back.send(sender=None)


def pytest_configure(config: Any) -> None:
    from django.db.models.signals import post_migrate

    post_migrate.connect(_after_flush, dispatch_uid="tests.after_flush")


@pytest.fixture(autouse=True)
def _fresh_custom_field_definitions() -> Any:
    """Custom-field definitions are cached per process for a few seconds; a definition created by a
    (rolled-back) test must not leak into the next test, nor one from before."""
    from cmdb.extras.customfields import _clear

    _clear()
    yield
    _clear()


@pytest.fixture(autouse=True)
def _private_audit_checkpoints(settings: Any, tmp_path: Any) -> None:
    """Each test's checkpoints in its own file: a checkpoint of another test's database would make
    ``cmdb audit verify`` report a foreign or deleted chain."""
    settings.AUDIT_CHECKPOINT_FILE = str(tmp_path / "audit-checkpoints.log")
    settings.AUDIT_CHECKPOINT_SYSLOG = ""


@pytest.fixture
def make_user(db: Any) -> Callable[..., Any]:
    from django.contrib.auth import get_user_model

    def make(username: str = "alice", *, superuser: bool = False, **extra: Any) -> Any:
        User = get_user_model()
        if superuser:
            return User.objects.create_superuser(username=username, password="correct-horse-battery", **extra)
        return User.objects.create_user(username=username, password="correct-horse-battery", **extra)

    return make


@pytest.fixture
def make_token(db: Any) -> Callable[..., str]:
    """Create a token for a user and return its key."""
    from cmdb.users.services import token_create

    def make(user: Any, *, write: bool = True, **extra: Any) -> str:
        _token, key = token_create(user=user, write_enabled=write, **extra)
        return key

    return make


@pytest.fixture
def superuser(make_user: Callable[..., Any]) -> Any:
    return make_user("admin", superuser=True)


@pytest.fixture
def api(superuser: Any, make_token: Callable[..., str]) -> APIClient:
    """A DRF test client authenticated with a read-write superuser token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(superuser)}")
    return client


@pytest.fixture
def client_for(make_token: Callable[..., str]) -> Callable[..., APIClient]:
    def make(user: Any, *, write: bool = True) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(user, write=write)}")
        return client

    return make


@pytest.fixture
def nb(live_server: Any, transactional_db: Any, superuser: Any, make_token: Callable[..., str]) -> Any:
    """pynetbox, unmodified, against a live HTTP server of the CMDB."""
    import pynetbox

    return pynetbox.api(live_server.url, token=make_token(superuser))
