"""Plan, apply, verify and prune against the real kube-apiserver (tests/k8s/conftest.py).

Each test has its own cluster CI with its own field manager, so the managed-by label the reconciler lists by
is the test's own, and fresh namespace names (deleted namespaces never finish terminating here).
"""

from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from kubernetes import client

from cmdb.services.models import Relationship, RelationshipType, Service
from cmdb.tenancy.models import Contact, ContactAssignment, ContactRole, Tenant
from k8s import sync
from k8s.desired import MANAGED_BY, NAMESPACE_LABEL
from k8s.models import Cluster, K8sSubject, Namespace
from tests.security.conftest import fresh, grant

pytestmark = pytest.mark.django_db


@dataclass
class World:
    cluster: Cluster
    tenant: Tenant
    web: Service
    db: Service
    ns_web: Namespace
    ns_db: Namespace
    tech: Contact


def _contact(name: str, subject: str, kind: str = "User") -> Contact:
    contact = Contact.objects.create(name=name, email=f"{subject}@example.org")
    K8sSubject.objects.create(contact=contact, kind=kind, name=subject)
    return contact


def _assign(obj: Any, contact: Contact, role: str) -> None:
    role_obj, _ = ContactRole.objects.get_or_create(slug=role, defaults={"name": role.title()})
    ContactAssignment.objects.create(object_type=ContentType.objects.get_for_model(obj), object_id=obj.pk,
                                     contact=contact, role=role_obj)


@pytest.fixture
def world(k8s_cluster: Cluster) -> World:
    hexa = secrets.token_hex(3)
    tenant = Tenant.objects.create(name=f"Physics {hexa}", slug=f"physics-{hexa}")
    owner = _contact("Olga Owner", "olga")
    tech = _contact("Tom Tech", "tom")
    ops = _contact("Ops team", "ops", kind="Group")
    web = Service(name=f"Web {hexa}", slug=f"web-{hexa}", tenant=tenant, owner=owner)
    web.validated_save()
    db = Service(name=f"DB {hexa}", slug=f"db-{hexa}", tenant=tenant)
    db.validated_save()
    _assign(web, tech, "technical")
    _assign(web, ops, "support")
    Relationship.objects.create(source=web.ci, target=db.ci, type=RelationshipType.objects.get(slug="depends_on"))
    ns_web = Namespace(cluster=k8s_cluster, name=f"web-{hexa}", service=web, requests_cpu="2", limits_memory="4Gi",
                       pods=20, default_cpu="500m", default_memory="256Mi", labels={"team": "web"})
    ns_web.validated_save()
    ns_db = Namespace(cluster=k8s_cluster, name=f"db-{hexa}", service=db, requests_cpu="1", pvcs=5,
                      storage_classes={"fast": "100Gi"})
    ns_db.validated_save()
    return World(k8s_cluster, tenant, web, db, ns_web, ns_db, tech)


def _plan(cluster: Cluster, **kwargs: Any) -> sync.ClusterPlan:
    plans = [p for p in sync.plan(**kwargs) if p.cluster == cluster.name]
    assert len(plans) == 1, plans
    return plans[0]


def _items(plan: sync.ClusterPlan) -> dict[tuple[str, str, str], sync.PlanItem]:
    return {(i.kind, i.namespace, i.name): i for i in plan.items}


def test_plan_apply_and_an_empty_second_plan(world: World, k8s_admin: Any) -> None:
    w = world
    first = _plan(w.cluster, scope=f"cluster:{w.cluster.name}")
    assert first.error == "", first.error
    items = _items(first)
    web, db = w.ns_web.name, w.ns_db.name
    assert {i.action for i in first.items} == {"create"}
    assert sorted(items) == sorted([
        ("Namespace", "", web), ("Namespace", "", db),
        ("ResourceQuota", web, "cmdb-quota"), ("ResourceQuota", db, "cmdb-quota"), ("LimitRange", web, "cmdb-limits"),
        ("RoleBinding", web, "cmdb-admin"), ("RoleBinding", web, "cmdb-edit"), ("RoleBinding", web, "cmdb-view"),
        ("NetworkPolicy", web, "cmdb-default-deny"), ("NetworkPolicy", web, "cmdb-allow-dependents"),
        ("NetworkPolicy", db, "cmdb-default-deny"), ("NetworkPolicy", db, "cmdb-allow-dependents"),
    ])
    quota = items[("ResourceQuota", web, "cmdb-quota")].diff.splitlines()
    assert '+ spec.hard.requests.cpu: "2"' in quota and '+ spec.hard.pods: "20"' in quota
    assert '+ spec.hard.limits.memory: "4Gi"' in quota
    ns_diff = items[("Namespace", "", web)].diff.splitlines()
    assert f'+ metadata.labels.{MANAGED_BY}: "{w.cluster.field_manager}"' in ns_diff
    assert f'+ metadata.labels.cmdb/ci-id: "{w.ns_web.ci_id}"' in ns_diff
    assert f'+ metadata.labels.cmdb/service: "{w.web.slug}"' in ns_diff
    assert f'+ metadata.labels.cmdb/tenant: "{w.tenant.slug}"' in ns_diff
    assert '+ metadata.labels.cmdb/owner: "olga-owner"' in ns_diff
    assert '+ metadata.labels.cmdb/criticality: "medium"' in ns_diff
    assert '+ spec.finalizers: ["kubernetes"]' in ns_diff  # the server's default, from its dry run
    # Planning created nothing: a dry run.
    core = client.CoreV1Api(k8s_admin)
    assert web not in {ns.metadata.name for ns in core.list_namespace().items}
    assert first.calls["list"] == 5 and first.calls["apply"] == 0

    outcomes = sync.apply_plan([first])
    assert [o for o in outcomes if o.status != "ok"] == []
    assert len(outcomes) == 12

    hard = core.read_namespaced_resource_quota("cmdb-quota", web).spec.hard
    assert hard == {"requests.cpu": "2", "limits.memory": "4Gi", "pods": "20"}
    db_hard = core.read_namespaced_resource_quota("cmdb-quota", db).spec.hard
    assert db_hard == {"requests.cpu": "1", "persistentvolumeclaims": "5",
                       "fast.storageclass.storage.k8s.io/requests.storage": "100Gi"}
    limits = core.read_namespaced_limit_range("cmdb-limits", web).spec.limits[0]
    assert limits.default == {"cpu": "500m", "memory": "256Mi"}
    assert core.read_namespace(web).metadata.labels["team"] == "web"
    rbac = client.RbacAuthorizationV1Api(k8s_admin)
    bindings = {b.metadata.name: (b.role_ref.name, [(s.kind, s.name) for s in b.subjects])
                for b in rbac.list_namespaced_role_binding(web).items}
    assert bindings == {"cmdb-admin": ("admin", [("User", "olga")]), "cmdb-edit": ("edit", [("User", "tom")]),
                        "cmdb-view": ("view", [("Group", "ops")])}
    net = client.NetworkingV1Api(k8s_admin)
    allow_db = net.read_namespaced_network_policy("cmdb-allow-dependents", db).spec.ingress[0]._from
    assert sorted(peer.namespace_selector.match_labels[NAMESPACE_LABEL] for peer in allow_db) == sorted([db, web])
    allow_web = net.read_namespaced_network_policy("cmdb-allow-dependents", web).spec.ingress[0]._from
    assert [peer.namespace_selector.match_labels[NAMESPACE_LABEL] for peer in allow_web] == [web]
    deny = net.read_namespaced_network_policy("cmdb-default-deny", web).spec
    assert deny.policy_types == ["Ingress"] and not deny.ingress

    second = _plan(w.cluster, scope=f"cluster:{w.cluster.name}")
    assert (second.error, second.items) == ("", [])
    # Watch-free and cheap: one LIST per resource type, no per-object call.
    assert second.calls == {"discovery": 3, "list": 5}


def test_a_change_in_the_cmdb_yields_a_minimal_diff(world: World, k8s_admin: Any) -> None:
    w = world
    sync.apply_plan(sync.plan(scope=f"cluster:{w.cluster.name}"))
    w.ns_web.requests_cpu = "4"
    w.ns_web.validated_save()
    changed = _plan(w.cluster, scope=f"cluster:{w.cluster.name}")
    assert [(i.action, i.target, i.diff) for i in changed.items] == [
        ("update", f"ResourceQuota {w.ns_web.name}/cmdb-quota", '~ spec.hard.requests.cpu: "2" → "4"')]
    assert changed.calls["apply_dry_run"] == 1
    # Planned for the edited namespace alone, each LIST covers only that namespace: the same item.
    scoped = _plan(w.cluster, scope=f"ci:{w.ns_web.ci_id}")
    assert [(i.action, i.target, i.diff) for i in scoped.items] == [(i.action, i.target, i.diff) for i in changed.items]
    assert scoped.calls == {"discovery": 3, "list": 5, "apply_dry_run": 1}
    assert _plan(w.cluster, scope=f"ci:{w.ns_db.ci_id}").items == []

    # A dependency added: only the database's allow policy changes.
    api = Service(name=f"API {w.ns_web.name}", slug=f"api-{w.ns_web.name}", tenant=w.tenant)
    api.validated_save()
    ns_api = Namespace(cluster=w.cluster, name=f"api-{w.ns_web.name}", service=api)
    ns_api.validated_save()
    sync.apply_plan(sync.plan(scope=f"namespace:{ns_api.name}"))
    Relationship.objects.create(source=api.ci, target=w.db.ci, type=RelationshipType.objects.get(slug="depends_on"))
    # The owner changes: the admin binding's subjects change.
    new_owner = _contact("Nina New", "nina")
    w.web.owner = new_owner
    w.web.validated_save()
    plan = _plan(w.cluster, scope=f"cluster:{w.cluster.name}")
    items = _items(plan)
    assert sorted(items) == sorted([
        ("ResourceQuota", w.ns_web.name, "cmdb-quota"), ("NetworkPolicy", w.ns_db.name, "cmdb-allow-dependents"),
        ("RoleBinding", w.ns_web.name, "cmdb-admin"), ("Namespace", "", w.ns_web.name)])
    assert items[("Namespace", "", w.ns_web.name)].diff == '~ metadata.labels.cmdb/owner: "olga-owner" → "nina-new"'
    assert "nina" in items[("RoleBinding", w.ns_web.name, "cmdb-admin")].diff
    assert ns_api.name in items[("NetworkPolicy", w.ns_db.name, "cmdb-allow-dependents")].diff
    assert all(o.status == "ok" for o in sync.apply_plan([plan]))
    assert client.CoreV1Api(k8s_admin).read_namespaced_resource_quota(
        "cmdb-quota", w.ns_web.name).spec.hard["requests.cpu"] == "4"
    assert _plan(w.cluster, scope=f"cluster:{w.cluster.name}").items == []


def test_a_field_of_another_manager_is_a_conflict_left_alone(world: World, k8s_admin: Any) -> None:
    w = world
    sync.apply_plan(sync.plan(scope=f"cluster:{w.cluster.name}"))
    core = client.CoreV1Api(k8s_admin)
    # Someone raises the pod quota by hand (kubectl edit: an update, which takes the field over).
    core.patch_namespaced_resource_quota("cmdb-quota", w.ns_web.name, {"spec": {"hard": {"pods": "50"}}},
                                         field_manager="kubectl-edit")
    plan = _plan(w.cluster, scope=f"cluster:{w.cluster.name}")
    assert [(i.action, i.target) for i in plan.items] == [("conflict", f"ResourceQuota {w.ns_web.name}/cmdb-quota")]
    error = plan.items[0].error
    assert '"kubectl-edit"' in error and ".spec.hard.pods" in error
    outcomes = sync.apply_plan([plan])
    assert [(o.status, o.target) for o in outcomes] == [("failed", f"ResourceQuota {w.ns_web.name}/cmdb-quota")]
    assert "kubectl-edit" in outcomes[0].message
    assert core.read_namespaced_resource_quota("cmdb-quota", w.ns_web.name).spec.hard["pods"] == "50"  # left alone


def test_prune_removes_only_ours_and_only_when_asked(world: World, k8s_admin: Any) -> None:
    w = world
    sync.apply_plan(sync.plan(scope=f"cluster:{w.cluster.name}"))
    core = client.CoreV1Api(k8s_admin)
    theirs = client.V1ResourceQuota(metadata=client.V1ObjectMeta(name="theirs"),
                                    spec=client.V1ResourceQuotaSpec(hard={"pods": "3"}))
    core.create_namespaced_resource_quota(w.ns_db.name, theirs)
    Namespace.objects.filter(pk=w.ns_db.pk).update(requests_cpu="", pvcs=None, storage_classes={})
    plan = _plan(w.cluster, scope=f"cluster:{w.cluster.name}")
    assert [(i.action, i.target) for i in plan.items] == [("delete", f"ResourceQuota {w.ns_db.name}/cmdb-quota")]
    assert '- spec.hard.persistentvolumeclaims: "5"' in plan.items[0].diff.splitlines()

    outcomes = sync.apply_plan([plan])  # pruning not allowed: listed, not done
    assert [(o.status, o.message) for o in outcomes] == [("skipped", "pruning is not enabled for this run")]
    assert {q.metadata.name for q in core.list_namespaced_resource_quota(w.ns_db.name).items} == {"cmdb-quota",
                                                                                                 "theirs"}
    outcomes = sync.apply_plan([plan], prune=True)
    assert [(o.status, o.message) for o in outcomes] == [("ok", "deleted")]
    assert {q.metadata.name for q in core.list_namespaced_resource_quota(w.ns_db.name).items} == {"theirs"}
    assert _plan(w.cluster, scope=f"cluster:{w.cluster.name}").items == []


def test_a_tenant_scoped_user_plans_only_their_tenants_namespaces(world: World, make_user: Any) -> None:
    w = world
    other = Tenant.objects.create(name=f"Other {w.ns_web.name}", slug=f"other-{w.ns_web.name}")
    ns_other = Namespace(cluster=w.cluster, name=f"other-{w.ns_web.name}", tenant=other)
    ns_other.validated_save()
    alice = make_user("alice")
    grant(name="alice-k8s", types=["k8s.namespace"], actions=["view", "change"], users=[alice], tenants=[other])
    plan = _plan(w.cluster, user=fresh(alice))
    assert {i.namespace or i.name for i in plan.items} == {ns_other.name}
    # Nor does her plan offer to prune what is not hers.
    sync.apply_plan(sync.plan(scope=f"cluster:{w.cluster.name}"))
    Namespace.objects.filter(pk=w.ns_web.pk).update(requests_cpu="", limits_memory="", pods=None)
    assert _plan(w.cluster, user=fresh(alice)).items == []
    assert [i.action for i in _plan(w.cluster, scope=f"cluster:{w.cluster.name}").items] == ["delete"]


def test_wrong_token_or_unreachable_server_is_a_failed_plan_naming_the_cluster(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    monkeypatch.setenv("CMDB_K8S_TEST_TOKEN", "not-the-token")
    plan = _plan(w.cluster, scope=f"cluster:{w.cluster.name}")
    assert plan.items == [] and w.cluster.name in plan.error and "HTTP 401" in plan.error
    outcomes = sync.apply_plan([plan])
    assert [(o.status, o.target) for o in outcomes] == [("failed", f"cluster {w.cluster.name}")]

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    Cluster.objects.filter(pk=w.cluster.pk).update(api_url=f"https://127.0.0.1:{port}")
    plan = _plan(w.cluster, scope=f"cluster:{w.cluster.name}")
    assert plan.items == [] and w.cluster.name in plan.error and "refused" in plan.error.lower()

    monkeypatch.delenv("CMDB_K8S_TEST_TOKEN")
    plan = _plan(w.cluster, scope=f"cluster:{w.cluster.name}")
    assert w.cluster.name in plan.error and "CMDB_K8S_TEST_TOKEN" in plan.error


def test_the_served_version_is_discovered(world: World) -> None:
    plans = sync.plan(scope=f"cluster:{world.cluster.name}")
    assert [p.served_version for p in plans] == ["v1.20.2"]
    world.cluster.refresh_from_db()
    assert world.cluster.served_version == ""  # planning (a reconciler's observe) writes nothing
    sync.record_status(plans)
    world.cluster.refresh_from_db()
    assert world.cluster.served_version == "v1.20.2"


def test_a_verify_records_status_and_the_metrics_show_it(world: World, k8s_admin: Any, make_user: Any) -> None:
    from k8s.metrics import collect
    from k8s.models import NamespaceStatus

    w = world
    sync.apply_plan(sync.plan(scope=f"cluster:{w.cluster.name}"))
    # The quota controller (kube-controller-manager, absent here) would report usage like this.
    client.CoreV1Api(k8s_admin).patch_namespaced_resource_quota_status("cmdb-quota", w.ns_web.name, {"status": {
        "hard": {"pods": "20", "requests.cpu": "2", "limits.memory": "4Gi"},
        "used": {"pods": "19", "requests.cpu": "500m", "limits.memory": "1Gi"}}})
    client.CoreV1Api(k8s_admin).patch_namespaced_resource_quota("cmdb-quota", w.ns_db.name,
                                                                 {"spec": {"hard": {"pods": "50"}}},
                                                                 field_manager="kubectl-edit")
    Namespace.objects.filter(pk=w.ns_web.pk).update(requests_cpu="3")
    assert sync.record_status(sync.plan(scope=f"cluster:{w.cluster.name}")) == 2
    web = NamespaceStatus.objects.get(namespace=w.ns_web)
    assert (web.drift_items, web.conflicts, web.error) == (1, 0, "")
    assert web.quota_used == {"pods": "19", "requests.cpu": "500m", "limits.memory": "1Gi"}
    db = NamespaceStatus.objects.get(namespace=w.ns_db)
    assert (db.drift_items, db.conflicts) == (0, 0)  # another manager's extra field is no conflict of ours

    families = {family.name: family for family in collect()}
    labels = {"ci_id": str(w.ns_web.ci_id), "cluster": w.cluster.name, "namespace": w.ns_web.name,
              "tenant": w.tenant.slug, "service": w.web.slug}

    def value(name: str, **extra: str) -> float:
        [sample] = [s for s in families[name].samples if s.labels == {**labels, **extra}]
        return sample.value

    assert value("cmdb_k8s_namespace_quota_used", resource="requests.cpu") == 0.5
    assert value("cmdb_k8s_namespace_quota_hard", resource="limits.memory") == 4 * 2**30
    assert value("cmdb_k8s_namespace_quota_used", resource="pods") == 19
    assert value("cmdb_k8s_namespace_drift_items") == 1
    assert value("cmdb_k8s_namespace_sync_error") == 0
    assert value("cmdb_k8s_namespace_last_sync_timestamp_seconds") == web.last_sync.timestamp()
    info = [s for s in families["cmdb_k8s_cluster_info"].samples if s.labels["cluster"] == w.cluster.name]
    assert [s.labels["served_version"] for s in info] == ["v1.20.2"]

    # A user of another tenant sees none of it.
    other = Tenant.objects.create(name=f"Elsewhere {w.ns_web.name}", slug=f"elsewhere-{w.ns_web.name}")
    alice = make_user("alice")
    grant(name="alice-k8s", types=["k8s.namespacestatus", "k8s.cluster"], actions=["view"], users=[alice],
          tenants=[other])
    scoped = {family.name: family for family in collect(user=fresh(alice))}
    assert all(not family.samples for family in scoped.values())
