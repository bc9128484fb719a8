"""Inheritance along member_of/runs_on/hosted_on and the coverage report, on a hand-built graph."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from backup import coverage as cov
from backup.models import Policy, PolicyAttachment, Repository, RestoreTest, Snapshot
from cmdb.services.models import Relationship, RelationshipType, Service
from tests import factories

pytestmark = pytest.mark.django_db


def edge(source: Any, slug: str, target: Any) -> None:
    Relationship.objects.create(source_id=source.ci_id, target_id=target.ci_id,
                                type=RelationshipType.objects.get(slug=slug))


@pytest.fixture
def graph(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("CMDB_RESTIC_PASSWORD", "x")
    repo = Repository(name="r", repo_url="/srv/restic", password_ref="env:CMDB_RESTIC_PASSWORD")
    repo.validated_save()
    daily = Policy(name="daily", paths=["/srv"], repository=repo, rpo_hours=24)
    daily.validated_save()
    special = Policy(name="special", paths=["/var/lib/db"], repository=repo, rpo_hours=6)
    special.validated_save()
    service = Service(name="campus-management", slug="campus-management", criticality="critical")
    service.save()
    g = type("G", (), {})()
    g.repo, g.daily, g.special, g.service = repo, daily, special, service
    g.vm1, g.vm2, g.db = factories.device("vm1"), factories.device("vm2"), factories.device("db1")
    g.hyper, g.guest = factories.device("hyper"), factories.device("guest")
    g.member, g.lonely = factories.device("member"), factories.device("lonely", criticality="high")
    g.far = factories.device("far")
    edge(service, "runs_on", g.vm1)        # campus-management runs on vm1 and vm2
    edge(service, "runs_on", g.vm2)
    edge(service, "runs_on", g.db)         # ... and db1, which has its own policy
    edge(g.guest, "hosted_on", g.hyper)    # guest hosted on hyper
    edge(g.member, "member_of", g.vm1)     # member belongs to vm1
    edge(g.far, "hosted_on", g.member)     # far hosted on member: three steps from the service
    PolicyAttachment.objects.create(policy=daily, ci_id=service.ci_id)
    PolicyAttachment.objects.create(policy=special, ci_id=g.db.ci_id)
    PolicyAttachment.objects.create(policy=special, ci_id=g.hyper.ci_id)
    return g


def test_effective_policy_is_inherited_and_explained(graph: Any) -> None:
    eff = cov.effective_policies()
    assert eff[graph.service.ci_id].explanation == "attached directly"
    assert eff[graph.vm1.ci_id].policy_ids == (graph.daily.pk,)
    assert eff[graph.vm1.ci_id].explanation == "inherited from service campus-management (runs_on)"
    assert eff[graph.db.ci_id].policy_ids == (graph.special.pk,)  # its own attachment overrides the service's
    assert eff[graph.guest.ci_id].policy_ids == (graph.special.pk,)
    assert eff[graph.guest.ci_id].explanation == "inherited from device hyper (hosted_on)"
    assert eff[graph.member.ci_id].explanation == "inherited from service campus-management (runs_on, 2 steps)"
    assert eff[graph.far.ci_id].distance == 3
    assert graph.hyper.ci_id in eff and graph.lonely.ci_id not in eff
    # The service's policy does not climb up to what hosts the things it covers.
    assert graph.vm1.ci_id not in {e.source_ci for e in eff.values()}


def test_coverage_lists_missing_policies_rpo_breaches_and_missing_restore_tests(graph: Any) -> None:
    now = timezone.now()
    Snapshot.objects.create(repository=graph.repo, snapshot_id="a" * 64, short_id="aaaaaaaa",
                            time=now - dt.timedelta(hours=2),
                            ci_id=graph.vm1.ci_id, policy=graph.daily)
    Snapshot.objects.create(repository=graph.repo, snapshot_id="b" * 64, short_id="bbbbbbbb",
                            time=now - dt.timedelta(hours=30), ci_id=graph.vm2.ci_id, policy=graph.daily)
    RestoreTest.objects.create(ci_id=graph.vm1.ci_id, passed=True, tested_at=now - dt.timedelta(days=1))
    RestoreTest.objects.create(ci_id=graph.vm2.ci_id, passed=False, tested_at=now)
    rows = cov.coverage(now=now)
    problems = {(row.name, row.problem) for row in rows}
    assert ("lonely", "no_policy") in problems            # criticality high, nothing attached
    assert ("vm1", "rpo_breached") not in problems and ("vm1", "no_restore_test") not in problems
    assert ("vm2", "rpo_breached") in problems            # 30 h old, RPO 24 h
    assert ("vm2", "no_restore_test") in problems         # its only test failed
    assert ("guest", "rpo_breached") in problems          # inherited policy, never backed up
    assert not any(name in ("r", "daily", "special") for name, _ in problems)  # the backup CIs themselves
    vm2 = next(row for row in rows if row.name == "vm2" and row.problem == "rpo_breached")
    assert vm2.explanation == "inherited from service campus-management (runs_on); RPO 24 h"
    text = cov.as_csv(rows)
    assert text.splitlines()[0] == ",".join(cov.CSV_COLUMNS) and "lonely" in text


def test_a_critical_service_makes_its_vms_require_a_backup(graph: Any) -> None:
    PolicyAttachment.objects.filter(ci_id=graph.service.ci_id).delete()
    problems = {(row.name, row.problem) for row in cov.coverage()}
    assert ("vm1", "no_policy") in problems and ("campus-management", "no_policy") in problems
    assert ("hyper", "no_policy") not in problems  # not critical, nothing critical runs there


def test_coverage_api_json_csv_and_bad_input(graph: Any, api: Any) -> None:
    r = api.get("/api/backup/coverage/?problem=no_policy")
    assert r.status_code == 200, r.content
    assert [row["name"] for row in r.json()["results"]] == ["lonely"]
    r = api.get("/api/backup/coverage/?export=csv")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv") and b"lonely" in r.content
    r = api.get("/api/backup/coverage/?problem=everything")
    assert r.status_code == 400 and "problem" in r.json()


def test_coverage_cost_does_not_grow_with_the_graph(graph: Any, django_assert_max_num_queries: Any) -> None:
    with django_assert_max_num_queries(10):
        cov.coverage()
    for i in range(20):
        factories.device(f"extra-{i}", criticality="critical")
    with django_assert_max_num_queries(10):
        assert len(cov.coverage()) >= 20
