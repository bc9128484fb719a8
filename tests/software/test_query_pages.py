"""The software query pages: which CIs run a product in a version range, what is on a host, end of support.

Real rows, real version ordering (semantic and Debian), permission scoping by tenant, and a
query count that does not grow with the number of installations listed.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cmdb.core.models.registry import ConfigurationItem
from cmdb.software.models import SoftwareInstallation, SoftwareProduct, SoftwareVersion
from tests import factories as f

pytestmark = pytest.mark.django_db

TODAY = dt.date.today()


@pytest.fixture
def scene() -> dict[str, Any]:
    cs, hr = f.tenant("CS"), f.tenant("HR")
    openssl = SoftwareProduct.objects.create(vendor="OpenSSL", name="OpenSSL", slug="openssl", version_scheme="debian")
    versions = {v: SoftwareVersion.objects.create(product=openssl, version=v, end_of_support=eos) for v, eos in (
        ("1.1.1n-0+deb11u5", TODAY - dt.timedelta(days=400)),
        ("3.0.11-1~deb12u2", TODAY + dt.timedelta(days=20)),
        ("3.0.15-1~deb12u1", None),
        ("1:3.0.2-1", None),  # epoch 1: newer than every 3.0.x without an epoch
    )}
    hosts = {}
    for name, tenant, version in (("cs-web", cs, "1.1.1n-0+deb11u5"), ("cs-db", cs, "3.0.11-1~deb12u2"),
                                  ("hr-app", hr, "3.0.15-1~deb12u1"), ("cs-new", cs, "1:3.0.2-1")):
        vm = f.vm(name, tenant=tenant)
        hosts[name] = vm
        SoftwareInstallation.objects.create(ci_id=vm.ci_id, version=versions[version], source="ansible")
    return {"cs": cs, "hr": hr, "openssl": openssl, "versions": versions, "hosts": hosts}


def names(html: str) -> set[str]:
    table = html[html.index('id="installations"'):html.index("</table>", html.index('id="installations"'))]
    return set(re.findall(r'<a href="/ci/\d+/">([^<]+)</a>', table))


def test_which_below_and_in_a_range(admin_client: Any, scene: Any) -> None:
    url = "/software/which/"
    assert names(admin_client.get(url, {"product": "openssl"}).content.decode()) == {
        "cs-web", "cs-db", "hr-app", "cs-new"}
    below = admin_client.get(url, {"product": "OpenSSL", "below": "3.0.13"}).content.decode()
    assert names(below) == {"cs-web", "cs-db"}  # Debian ordering: 3.0.11-1~deb12u2 < 3.0.13, 1:3.0.2 is not
    ranged = admin_client.get(url, {"product": "openssl", "at_least": "3.0", "below": "3.0.13"}).content.decode()
    assert names(ranged) == {"cs-db"}
    assert names(admin_client.get(url, {"product": "openssl", "at_least": "1:0"}).content.decode()) == {"cs-new"}
    missing = admin_client.get(url, {"product": "no-such-thing"})
    assert missing.status_code == 200 and "No product" in missing.content.decode()
    assert 'id="installations"' not in admin_client.get(url).content.decode()  # empty form, no query yet


def test_installed_on_by_name_or_id(admin_client: Any, scene: Any) -> None:
    html = admin_client.get("/software/installed-on/", {"host": "cs-db"}).content.decode()
    assert names(html) == {"cs-db"} and "3.0.11-1~deb12u2" in html and "ansible" in html
    by_id = admin_client.get("/software/installed-on/", {"host": scene["hosts"]["hr-app"].ci_id}).content.decode()
    assert names(by_id) == {"hr-app"}


def test_end_of_support_now_and_within_days(admin_client: Any, scene: Any) -> None:
    now = admin_client.get("/software/end-of-support/").content.decode()
    assert names(now) == {"cs-web"} and "past end of support" in now
    soon = admin_client.get("/software/end-of-support/", {"within": "30"}).content.decode()
    assert names(soon) == {"cs-web", "cs-db"}
    bad = admin_client.get("/software/end-of-support/", {"within": "-3"})
    assert bad.status_code == 200 and "number of days" in bad.content.decode()


def test_pages_are_scoped_to_the_users_tenants(grant: Any, scene: Any) -> None:
    client = grant("hr-admin", ["software.softwareinstallation", "software.softwareproduct"], ["view"],
                   tenants=[scene["hr"]])
    assert names(client.get("/software/which/", {"product": "openssl"}).content.decode()) == {"hr-app"}
    assert names(client.get("/software/installed-on/", {"host": "cs-db"}).content.decode()) == set()
    assert names(client.get("/software/end-of-support/", {"within": "30"}).content.decode()) == set()
    nobody = grant("nobody", ["dcim.site"], ["view"])
    html = nobody.get("/software/which/", {"product": "openssl"}).content.decode()
    assert names(html) == set()


def test_menu_links_and_login(admin_client: Any, client: Any, scene: Any) -> None:
    home = admin_client.get("/dashboard/").content.decode()
    for url in ("/software/which/", "/software/installed-on/", "/software/end-of-support/"):
        assert f'href="{url}"' in home
        assert client.get(url).status_code == 302  # login required


def test_query_count_does_not_grow_with_rows(admin_client: Any, scene: Any) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            resp = admin_client.get("/software/which/", {"product": "openssl", "below": "9"})
        assert resp.status_code == 200
        return len(ctx.captured_queries)

    count()
    before = count()
    version = scene["versions"]["3.0.11-1~deb12u2"]
    cis = [ConfigurationItem.objects.create(kind="dcim.device", name=f"bulk{i}", tenant=scene["cs"])
           for i in range(30)]
    SoftwareInstallation.objects.bulk_create(
        [SoftwareInstallation(ci=ci, version=version, product_id=version.product_id) for ci in cis])
    assert count() == before
    html = admin_client.get("/software/which/", {"product": "openssl", "below": "9"}).content.decode()
    assert "bulk29" in html and "<strong>33</strong>" in html  # 1:3.0.2-1 (epoch 1) is not below 9
