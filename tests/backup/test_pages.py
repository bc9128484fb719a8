"""Backup pages: the standard lists, read-only observations, and the backup panel on a CI's page."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from backup.models import Policy, PolicyAttachment, Repository, RestoreTest, Snapshot
from cmdb.services.models import Relationship, RelationshipType, Service
from tests import factories

pytestmark = pytest.mark.django_db


def test_lists_and_the_ci_panel(client: Any, superuser: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Repository(name="primary-repo", repo_url="/srv/restic", password_ref="env:CMDB_RESTIC_PASSWORD")
    repo.validated_save()
    policy = Policy(name="nightly-files", paths=["/srv"], repository=repo)
    policy.validated_save()
    service = Service(name="campus-management", slug="campus-management")
    service.save()
    vm = factories.device("vm-panel")
    Relationship.objects.create(source_id=service.ci_id, target_id=vm.ci_id,
                                type=RelationshipType.objects.get(slug="runs_on"))
    PolicyAttachment.objects.create(policy=policy, ci_id=service.ci_id)
    snap = Snapshot.objects.create(repository=repo, snapshot_id="c" * 64, short_id="cccccccc", time=timezone.now(),
                                   ci_id=vm.ci_id, policy=policy, size=1234)
    RestoreTest.objects.create(ci_id=vm.ci_id, backup_snapshot=snap, repository=repo, restic_id=snap.snapshot_id,
                               passed=True, tested_at=timezone.now(), duration=1.5, message="20 files identical")
    client.force_login(superuser)
    for path, expected in (("/backup/repositories/", "primary-repo"), ("/backup/policies/", "nightly-files"),
                           ("/backup/snapshots/", "cccccccc"), ("/backup/restore-tests/", "c" * 16)):
        page = client.get(path)
        assert page.status_code == 200, path
        assert expected in page.content.decode(), path
    detail = client.get(f"/dcim/devices/{vm.pk}/").content.decode()
    assert "panel-backup" in detail and "nightly-files" in detail
    assert "inherited from service campus-management (runs_on)" in detail
    assert "cccccccc" in detail and "passed" in detail and "20 files identical" in detail
    assert client.get("/backup/snapshots/add/").status_code in (403, 404, 405)  # observations are read-only


def _coverage_world(n: int) -> dict[str, Any]:
    """Two tenants: physics' service (policy, RPO 24 h) runs on ``n`` devices; a critical chemistry device
    without a policy; one physics device backed up recently and restore-tested."""
    from cmdb.services.relationships import ensure_builtin_types

    physics, chemistry = factories.tenant("Physics"), factories.tenant("Chemistry")
    repo = Repository(name="cov-repo", repo_url="/srv/restic", password_ref="env:CMDB_RESTIC_PASSWORD")
    repo.validated_save()
    policy = Policy(name="cov-policy", paths=["/srv"], repository=repo, rpo_hours=24, tenant=physics)
    policy.validated_save()
    service = Service(name="physics-portal", slug="physics-portal", tenant=physics)
    service.save()
    runs_on = ensure_builtin_types()["runs_on"]
    devices = [factories.device(f"phys-{i}", tenant=physics) for i in range(n)]
    Relationship.objects.bulk_create([Relationship(source_id=service.ci_id, target_id=d.ci_id, type=runs_on)
                                      for d in devices])
    PolicyAttachment.objects.create(policy=policy, ci_id=service.ci_id)
    good = devices[0]
    snap = Snapshot.objects.create(repository=repo, snapshot_id="e" * 64, short_id="eeeeeeee", time=timezone.now(),
                                   ci_id=good.ci_id, policy=policy)
    RestoreTest.objects.create(ci_id=good.ci_id, backup_snapshot=snap, repository=repo, restic_id=snap.snapshot_id,
                               passed=True, tested_at=timezone.now())
    secret = factories.device("chem-secret-box", tenant=chemistry, criticality="critical")
    return {"physics": physics, "devices": devices, "secret": secret, "policy": policy}


@pytest.fixture
def grant(make_user: Any) -> Any:
    """``grant("alice", ["*"], ["view"], tenants=[t])`` -> a logged-in test client for a new user."""
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
        return c

    return make


def test_coverage_page_counts_pages_and_is_tenant_scoped(client: Any, superuser: Any, grant: Any,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         django_assert_max_num_queries: Any) -> None:
    monkeypatch.setenv("CMDB_RESTIC_PASSWORD", "x")
    w = _coverage_world(5)
    client.force_login(superuser)
    page = client.get("/backup/coverage/")
    assert page.status_code == 200
    counts = page.context["counts"]
    # 5 devices + the service with the policy; the chemistry box without one.
    assert counts["with_policy"] == 6 and counts["no_policy"] == 1
    assert counts["rpo_breached"] == 5  # four devices never backed up and the service itself
    html = page.content.decode()
    assert "chem-secret-box" in html and "phys-1" in html and "never" in html and "24 h" in html
    assert "inherited from service physics-portal (runs_on)" in html
    only = client.get("/backup/coverage/?problem=no_policy").content.decode()
    assert "chem-secret-box" in only and "phys-1" not in only
    assert "/api/backup/coverage/?export=csv&amp;problem=no_policy" in only

    # A physics user sees physics only: no chemistry name, counts over their CIs.
    physicist = grant("physicist", ["*"], ["view"], tenants=[w["physics"]])
    theirs = physicist.get("/backup/coverage/")
    assert theirs.status_code == 200
    assert "chem-secret-box" not in theirs.content.decode()
    assert theirs.context["counts"]["no_policy"] == 0 and theirs.context["counts"]["with_policy"] == 6
    # Someone who may not view policies does not get the report at all.
    outsider = grant("outsider", ["dcim.device"], ["view"])
    assert outsider.get("/backup/coverage/").status_code == 403

    # No per-row queries: forty more covered CIs cost no more queries than five.
    with django_assert_max_num_queries(40) as few:
        client.get("/backup/coverage/")
    for i in range(40):
        dev = factories.device(f"more-{i}", tenant=w["physics"])
        Relationship.objects.create(source_id=dev.ci_id, target_id=w["devices"][0].ci_id,  # hosted on phys-0
                                    type=RelationshipType.objects.get(slug="hosted_on"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        more = client.get("/backup/coverage/")
    assert more.context["counts"]["with_policy"] == 46
