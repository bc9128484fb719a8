"""The Kubernetes pages: a service's page shows its namespaces with quota, access and sync status; only to
users who may view the namespaces."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from cmdb.services.models import Service
from cmdb.tenancy.models import Contact, Tenant
from cmdb.ui.registry import object_url
from k8s.models import Cluster, K8sSubject, Namespace, NamespaceStatus
from tests.security.conftest import grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene() -> dict[str, Any]:
    tenant = Tenant.objects.create(name="Physics", slug="physics")
    olga = Contact.objects.create(name="Olga Owner")
    K8sSubject.objects.create(contact=olga, name="olga")
    service = Service(name="Web", slug="web", tenant=tenant, owner=olga)
    service.validated_save()
    cluster = Cluster(name="campus", api_url="https://k8s.example.org", credentials="env:CMDB_K8S_TOKEN")
    cluster.validated_save()
    ns = Namespace(cluster=cluster, name="physics-web", service=service, requests_cpu="2", pods=20)
    ns.validated_save()
    NamespaceStatus.objects.create(namespace=ns, last_sync=timezone.now(), drift_items=3)
    return {"tenant": tenant, "service": service, "ns": ns}


def test_the_service_page_shows_its_namespaces(admin_client: Client, scene: dict[str, Any]) -> None:
    page = admin_client.get(object_url(Service, scene["service"].pk)).content.decode()
    assert 'id="k8s-namespaces-panel"' in page
    assert "physics-web" in page and "campus" in page
    assert "requests.cpu 2, pods 20" in page
    assert "admin: User olga" in page
    assert "3 drift" in page
    ns_page = admin_client.get(object_url(Namespace, scene["ns"].pk)).content.decode()
    assert "admin: User olga" in ns_page


def test_no_panel_without_view_on_namespaces(client: Client, make_user: Any, scene: dict[str, Any]) -> None:
    bob = make_user("bob")
    grant(name="bob-services", types=["services.service"], actions=["view"], users=[bob], tenants=[scene["tenant"]])
    client.force_login(bob)
    response = client.get(object_url(Service, scene["service"].pk))
    assert response.status_code == 200
    assert "physics-web" not in response.content.decode()
