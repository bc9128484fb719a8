"""The Kubernetes API: clusters and namespaces as CIs, secret references only, validation with 400s naming the field,
the role mapping seeded as data, strict filters, tenant scope, the OpenAPI schema."""

from __future__ import annotations

from typing import Any

import pytest

from cmdb.core.models import ConfigurationItem
from cmdb.services.models import Service
from cmdb.tenancy.models import Tenant
from k8s.models import Cluster, Namespace, RoleMapping
from tests.security.conftest import grant, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster() -> Cluster:
    obj = Cluster(name="campus", api_url="https://k8s.example.org:6443", credentials="env:CMDB_K8S_TOKEN")
    obj.validated_save()
    return obj


def test_cluster_is_a_ci_and_refuses_a_plain_secret(api: Any) -> None:
    r = api.post("/api/k8s/clusters/", {"name": "c1", "api_url": "https://k8s.example.org:6443",
                                        "credentials": "s3cr3t-token-value"}, format="json")
    assert r.status_code == 400
    assert "credentials" in r.json()
    assert "s3cr3t" not in r.content.decode()  # a secret is never echoed
    r = api.post("/api/k8s/clusters/", {"name": "c1", "api_url": "https://k8s.example.org:6443",
                                        "credentials": "env:SECRET_KEY"}, format="json")
    assert r.status_code == 400 and "K8S" in r.json()["credentials"][0]
    r = api.post("/api/k8s/clusters/", {"name": "c1", "api_url": "https://k8s.example.org:6443",
                                        "credentials": "env:CMDB_K8S_TOKEN", "served_version": "v9"}, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["field_manager"] == "cmdb" and body["served_version"] == ""
    assert ConfigurationItem.objects.get(pk=body["ci_id"]).kind == "k8s.cluster"


def test_cluster_ca_must_be_pem(api: Any) -> None:
    r = api.post("/api/k8s/clusters/", {"name": "c2", "api_url": "https://k8s.example.org", "ca_certificate": "x",
                                        "credentials": "env:CMDB_K8S_TOKEN"}, format="json")
    assert r.status_code == 400 and "ca_certificate" in r.json()


def test_namespace_validation_names_the_field(api: Any, cluster: Cluster) -> None:
    tenant = Tenant.objects.create(name="Physics", slug="physics")
    base = {"cluster": cluster.pk, "tenant": tenant.pk}
    cases = [
        ({"name": "Bad_Name"}, "name"),
        ({"name": "ok", "requests_cpu": "lots"}, "requests_cpu"),
        ({"name": "ok", "storage_classes": {"fast": "many"}}, "storage_classes"),
        ({"name": "ok", "labels": {"a": "not valid!"}}, "labels"),
        ({"name": "ok", "annotations": {"bad key!": "x"}}, "annotations"),
    ]
    for extra, field in cases:
        r = api.post("/api/k8s/namespaces/", {**base, **extra}, format="json")
        assert r.status_code == 400, (extra, r.content)
        assert field in r.json(), (extra, r.json())
    r = api.post("/api/k8s/namespaces/", {"cluster": cluster.pk, "name": "orphan"}, format="json")
    assert r.status_code == 400 and "service" in r.json()
    r = api.post("/api/k8s/namespaces/", {**base, "name": "physics-web", "requests_cpu": "500m", "pods": 20,
                                          "storage_classes": {"fast": "100Gi"}, "labels": {"team": "web"}},
                 format="json")
    assert r.status_code == 201, r.content
    assert ConfigurationItem.objects.get(pk=r.json()["ci_id"]).kind == "k8s.namespace"


def test_namespace_of_a_service_takes_its_tenant(cluster: Cluster) -> None:
    tenant = Tenant.objects.create(name="Chemistry", slug="chemistry")
    service = Service(name="Lab portal", slug="lab-portal", tenant=tenant)
    service.validated_save()
    ns = Namespace(cluster=cluster, name="lab-portal", service=service)
    ns.validated_save()
    assert ns.tenant_id == tenant.pk


def test_role_mapping_is_seeded_data() -> None:
    assert dict(RoleMapping.objects.values_list("contact_role", "cluster_role")) == {
        "owner": "admin", "technical": "edit", "*": "view"}


def test_strict_filters(api: Any, cluster: Cluster) -> None:
    assert api.get("/api/k8s/clusters/?name=campus").json()["count"] == 1
    assert api.get("/api/k8s/namespaces/?no_such_filter=1").status_code == 400


def test_tenant_scoped_user_sees_only_their_namespaces(cluster: Cluster, make_user: Any) -> None:
    a, b = Tenant.objects.create(name="A", slug="a"), Tenant.objects.create(name="B", slug="b")
    for tenant in (a, b):
        Namespace(cluster=cluster, name=f"ns-{tenant.slug}", tenant=tenant).validated_save()
    alice = make_user("alice")
    grant(name="a-k8s", types=["k8s.namespace"], actions=["view", "change"], users=[alice], tenants=[a])
    names = [row["name"] for row in token_client(alice).get("/api/k8s/namespaces/").json()["results"]]
    assert names == ["ns-a"]


def test_endpoints_are_in_the_openapi_schema(api: Any) -> None:
    schema = api.get("/api/schema/?format=json").json()
    for path in ("/api/k8s/clusters/", "/api/k8s/namespaces/", "/api/k8s/role-mappings/", "/api/k8s/subjects/"):
        assert path in schema["paths"], path
