"""Tenant scoping: impact results and stacks never reveal a CI the user may not see ("hidden CI")."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from cmdb.core.context import change_logging
from cmdb.core.models.registry import ConfigurationItem
from cmdb.core.services import objects_delete
from cmdb.services.impact import HIDDEN, dependencies_of, impact_of
from cmdb.software.models import SoftwareInstallation, SoftwareProduct, SoftwareVersion
from cmdb.tenancy.models import Tenant

from ..users.test_permissions import grant
from .graphs import G

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(make_user):
    cs = Tenant.objects.create(name="CS", slug="cs")
    hr = Tenant.objects.create(name="HR", slug="hr")
    g = G()
    g.ci("storage", tenant=None)  # central storage: the computing center's, not visible to faculty admins
    g.ci("cs-db", kind="virtualization.virtualmachine", tenant=cs)
    g.ci("hr-db", kind="virtualization.virtualmachine", tenant=hr)
    g.service("cs-portal", tenant=cs)
    g.service("hr-portal", tenant=hr)
    g.edge("cs-db", "depends_on", "storage")
    g.edge("hr-db", "depends_on", "storage")
    g.edge("cs-portal", "depends_on", "cs-db")
    g.edge("hr-portal", "depends_on", "hr-db")
    user = make_user("cs-admin")
    grant(types=["virtualization.virtualmachine", "services.service", "dcim.device"], actions=["view"],
          users=[user], tenants=[cs])
    return g, get_user_model().objects.get(pk=user.pk)


def test_impact_hides_other_tenants_cis_and_path_elements(scene) -> None:
    g, user = scene
    everything = impact_of([g["cs-db"]])
    assert {a["name"] for a in everything.affected} == {"cs-portal"}
    with pytest.raises(ValueError, match="Unknown CI"):
        impact_of([g["storage"]], user=user)  # they may not even ask about a CI they cannot see
    admin_view = impact_of([g["storage"]])
    assert {a["name"] for a in admin_view.affected} == {"cs-db", "hr-db", "cs-portal", "hr-portal"}
    # Through a CI they can see, the hidden one shows up only as "hidden CI".
    stack = dependencies_of([g["cs-portal"]], user=user)
    assert [d["name"] for d in stack["dependencies"]] == ["cs-db"] and stack["hidden_count"] == 1


def test_api_impact_for_a_scoped_user(scene, client_for) -> None:
    g, user = scene
    client = client_for(user, write=False)
    resp = client.get("/api/services/impact/", {"ci": g["cs-db"]})
    assert resp.status_code == 200
    assert [a["name"] for a in resp.json()["affected"]] == ["cs-portal"]
    resp = client.get("/api/services/impact/", {"ci": g["storage"]})
    assert resp.status_code == 400 and "ci" in resp.json()
    resp = client.get("/api/services/impact/", {"ci": g["hr-db"]})
    assert resp.status_code == 400


def test_hidden_ci_in_the_middle_of_a_path(make_user) -> None:
    cs = Tenant.objects.create(name="CS", slug="cs")
    g = G()
    g.ci("switch", tenant=cs)
    g.ci("firewall", tenant=None)  # hidden from the faculty admin
    g.service("vpn", tenant=cs)
    g.edge("firewall", "connected_to", "switch")
    g.edge("vpn", "depends_on", "firewall")
    user = make_user("cs-admin")
    grant(types=["*"], actions=["view"], users=[user], tenants=[cs])
    user = get_user_model().objects.get(pk=user.pk)
    result = impact_of([g["switch"]], user=user)
    vpn = next(a for a in result.affected if a["name"] == "vpn")
    assert vpn["path_names"] == ["switch", HIDDEN, "vpn"] and vpn["path"][1] is None
    assert result.hidden_count == 1 and "firewall" not in str(result.as_dict())
    assert [s["name"] for s in result.services] == ["vpn"]


def test_deleting_an_installation_keeps_its_ci() -> None:
    """Regression: the core delete hook removed the registry row of anything with a ``ci`` field."""
    ci = ConfigurationItem.objects.create(kind="dcim.device", name="h")
    p = SoftwareProduct.objects.create(vendor="v", name="p", slug="p")
    inst = SoftwareInstallation.objects.create(ci=ci, version=SoftwareVersion.objects.create(product=p, version="1"))
    with change_logging(source="test"):
        objects_delete([inst])
    assert ConfigurationItem.objects.filter(pk=ci.pk).exists()
