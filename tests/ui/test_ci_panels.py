"""Detail-page panels from the services and software apps: relationships (both directions, hidden CIs)
and installed software, with a query count that does not grow with the rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cmdb.core.context import change_logging
from cmdb.core.services import objects_create
from cmdb.services.models import RedundancyGroup, RedundancyMember, Relationship
from cmdb.services.relationships import ensure_builtin_types
from cmdb.software.models import SoftwareInstallation, SoftwareProduct, SoftwareVersion
from tests import factories as f

pytestmark = pytest.mark.django_db


def edge(source: Any, type_slug: str, target: Any) -> None:
    types = ensure_builtin_types()
    with change_logging(source="test"):
        objects_create(Relationship, [{"source_id": source.ci_id, "target_id": target.ci_id,
                                       "type": types[type_slug]}])


@pytest.fixture
def scene() -> dict[str, Any]:
    cs, hr = f.tenant("CS"), f.tenant("HR")
    s: dict[str, Any] = {"cs": cs, "hr": hr}
    for name, tenant in (("web01", cs), ("db01", cs), ("hr-app", hr), ("cluster-a", cs)):
        s[name] = f.vm(name, tenant=tenant)
    edge(s["web01"], "depends_on", s["db01"])       # web01 -> db01: outgoing on web01, incoming on db01
    edge(s["hr-app"], "depends_on", s["db01"])      # from another tenant's CI
    edge(s["web01"], "hosted_on", s["cluster-a"])
    with change_logging(source="test"):
        group = objects_create(RedundancyGroup, [{"name": "db-pair", "min_up": 1, "tenant": cs}])[0]
        objects_create(RedundancyMember, [{"group": group, "ci_id": s["db01"].ci_id}])
    s["group"] = group
    nginx = SoftwareProduct.objects.create(vendor="F5", name="nginx", slug="nginx", version_scheme="semver")
    old = SoftwareVersion.objects.create(product=nginx, version="1.18.0", end_of_support=dt.date(2021, 4, 1))
    new = SoftwareVersion.objects.create(product=nginx, version="1.26.2")
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    SoftwareInstallation.objects.create(ci_id=s["web01"].ci_id, version=old, first_seen=now, last_seen=now,
                                        source="ansible")
    SoftwareInstallation.objects.create(ci_id=s["db01"].ci_id, version=new, source="agent")
    s.update(nginx=nginx, old=old, new=new)
    return s


def page(client: Any, obj: Any) -> str:
    resp = client.get(f"/virtualization/virtual-machines/{obj.pk}/")
    assert resp.status_code == 200
    return resp.content.decode()


def section(html: str, ident: str) -> str:
    start = html.index(f'id="{ident}"')
    return html[start:html.index("</section>", start)]


def test_relationships_panel_shows_both_directions_with_names_and_links(admin_client: Any, scene: Any) -> None:
    web = section(page(admin_client, scene["web01"]), "relationships-panel")
    assert "depends on" in web.lower() and "db01" in web and "cluster-a" in web
    assert f'href="/ci/{scene["db01"].ci_id}/"' in web
    db = section(page(admin_client, scene["db01"]), "relationships-panel")
    # Incoming edges use the type's inverse name; both sources are listed; the group membership too.
    assert "required by" in db and "<td>depends on</td>" not in db
    assert "web01" in db and "hr-app" in db
    assert "member of redundancy group (needs 1 up)" in db and "db-pair" in db
    # "Incoming" leads to the relationships list filtered on this CI as target.
    incoming = admin_client.get(f"/services/relationships/?target_id={scene['db01'].ci_id}").content.decode()
    assert "web01" in incoming and "hr-app" in incoming and "cluster-a" not in incoming


def test_ci_link_redirects_to_the_typed_page(admin_client: Any, scene: Any) -> None:
    resp = admin_client.get(f"/ci/{scene['db01'].ci_id}/")
    assert resp.status_code == 302 and resp["Location"] == f"/virtualization/virtual-machines/{scene['db01'].pk}/"
    assert admin_client.get("/ci/987654/").status_code == 404


def test_scoped_user_sees_hidden_ci_instead_of_another_tenants_ci(grant: Any, scene: Any) -> None:
    client = grant("cs-admin", ["virtualization.virtualmachine", "services.relationship",
                                "services.redundancymember", "software.softwareinstallation"], ["view"],
                   tenants=[scene["cs"]])
    db = section(page(client, scene["db01"]), "relationships-panel")
    assert "web01" in db and "hr-app" not in db
    # hr-app -> db01 is scoped by its source's tenant (HR): the CS admin does not get that edge at all.
    assert client.get(f"/ci/{scene['hr-app'].ci_id}/").status_code == 404


def test_hidden_ci_at_the_other_end_of_a_visible_edge(grant: Any, scene: Any) -> None:
    # A CS-owned edge to a CI of HR: the edge is visible, the HR CI is only "hidden CI".
    edge(scene["web01"], "depends_on", scene["hr-app"])
    client = grant("cs-admin", ["virtualization.virtualmachine", "services.relationship"], ["view"],
                   tenants=[scene["cs"]])
    web = section(page(client, scene["web01"]), "relationships-panel")
    assert "hidden CI" in web and "hr-app" not in web
    assert f'/ci/{scene["hr-app"].ci_id}/' not in web


def test_installed_software_panel_with_end_of_support_flag(admin_client: Any, scene: Any) -> None:
    web = section(page(admin_client, scene["web01"]), "software-panel")
    assert "nginx" in web and "1.18.0" in web and "ansible" in web and "past end of support" in web
    db = section(page(admin_client, scene["db01"]), "software-panel")
    assert "1.26.2" in db and "past end of support" not in db
    assert 'id="software-panel"' not in page(admin_client, scene["cluster-a"])  # nothing installed: no panel


def test_panels_respect_permissions(grant: Any, scene: Any) -> None:
    client = grant("vm-only", ["virtualization.virtualmachine"], ["view"])
    html = page(client, scene["web01"])
    assert 'id="software-panel"' not in html  # no grant on installations
    assert "No relationships you may see" in section(html, "relationships-panel")


def test_panel_queries_do_not_grow_with_rows(admin_client: Any, scene: Any) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            page(admin_client, scene["web01"])
        return len(ctx.captured_queries)

    page(admin_client, scene["web01"])  # warm per-process caches (content types, grants)
    before = count()
    for k in range(8):
        other = f.vm(f"extra{k}", tenant=scene["cs"])
        edge(scene["web01"], "depends_on", other)
        edge(other, "runs_on", scene["web01"])
        v = SoftwareVersion.objects.create(product=scene["nginx"], version=f"1.{k}.0")
        prod = SoftwareProduct.objects.create(vendor="X", name=f"tool{k}", slug=f"tool{k}")
        SoftwareInstallation.objects.create(ci_id=scene["web01"].ci_id,
                                            version=SoftwareVersion.objects.create(product=prod, version="1"))
        assert v.pk
    html = page(admin_client, scene["web01"])
    assert "extra7" in section(html, "relationships-panel") and "tool7" in section(html, "software-panel")
    assert count() == before
