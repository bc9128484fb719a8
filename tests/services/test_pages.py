"""The compliance report page (and its CSV) and the impact page with its drawing, printable report and scoping."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from cmdb.core.models.registry import ConfigurationItem
from cmdb.software.models import License, SoftwareInstallation, SoftwareProduct, SoftwareVersion
from cmdb.tenancy.models import Tenant

from ..users.test_permissions import grant
from .graphs import G, portal_behind_core_pair

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(superuser) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


def test_pages_need_a_login() -> None:
    for url in ("/software/compliance/", "/services/impact/?ci=1"):
        response = Client().get(url)
        assert response.status_code == 302 and "login" in response["Location"]


def test_compliance_page_and_csv(admin_client: Client) -> None:
    p = SoftwareProduct.objects.create(vendor="Sophos", name="Intercept X", slug="ix")
    v = SoftwareVersion.objects.create(product=p, version="2024.1")
    for i in range(3):
        SoftwareInstallation.objects.create(ci=ConfigurationItem.objects.create(kind="dcim.device", name=f"pc{i}"),
                                            version=v)
    License.objects.create(name="AV campus", product=p, metric="device", quantity=2)
    page = admin_client.get("/software/compliance/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "AV campus" in html and "over-use" in html and 'extends' not in html
    export = admin_client.get("/software/compliance/?format=csv")
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert rows[0]["name"] == "AV campus" and rows[0]["used"] == "3" and rows[0]["over_use"] == "1"


def test_impact_page_draws_the_graph_and_prints(admin_client: Client) -> None:
    g = portal_behind_core_pair()
    page = admin_client.get("/services/impact/", {"ci": "core1 core2", "mode": "down"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in html and html.count('class="node node-') == 5  # 2 failed + group, web, portal
    assert re.search(r"core[12] › core-pair › web › portal", html)
    assert "<script src=" in html and "impact.js" in html and "<script>" not in html  # CSP: no inline scripts
    assert f'<a href="/ci/{g["portal"]}/">portal</a>' in html  # affected CIs and services link to their pages
    printable = admin_client.get("/services/impact/", {"ci": "core1", "print": "1"}).content.decode()
    assert "<svg" not in printable and "degraded" in printable
    bad = admin_client.get("/services/impact/", {"ci": "no-such-ci"})
    assert bad.status_code == 200 and "no such CI" in bad.content.decode()


def test_impact_page_hides_what_the_user_may_not_see(make_user) -> None:
    cs = Tenant.objects.create(name="CS", slug="cs")
    g = G()
    g.ci("switch", tenant=cs)
    g.ci("secret-firewall", tenant=None)
    g.service("vpn", tenant=cs)
    g.edge("secret-firewall", "connected_to", "switch")
    g.edge("vpn", "depends_on", "secret-firewall")
    user = make_user("cs-admin")
    grant(types=["*"], actions=["view"], users=[user], tenants=[cs])
    client = Client()
    client.force_login(get_user_model().objects.get(pk=user.pk))
    html = client.get("/services/impact/", {"ci": "switch"}).content.decode()
    assert "secret-firewall" not in html and "hidden CI" in html and "vpn" in html
