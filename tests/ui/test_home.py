"""The landing page links to the API and shows only the CIs the user may see."""

import pytest

from cmdb.users.models import ObjectPermission
from tests import factories


@pytest.mark.django_db
def test_home_anonymous_has_links_but_no_counts(client):
    factories.device("srv-1")
    r = client.get("/")
    assert r.status_code == 200
    body = r.content.decode()
    assert 'href="/api/"' in body and 'href="/admin/"' in body
    assert "dcim.device" not in body


@pytest.mark.django_db
def test_home_counts_respect_permissions(client, make_user):
    a, b = factories.tenant("Faculty A"), factories.tenant("Faculty B")
    factories.device("srv-a", tenant=a)
    factories.device("srv-b", tenant=b)
    factories.device("srv-a2", tenant=a)
    user = make_user("viewer")
    perm = ObjectPermission.objects.create(name="a", object_types=["core.configurationitem"], actions=["view"])
    perm.users.add(user)
    perm.tenants.add(a)
    client.force_login(user)
    body = client.get("/").content.decode()
    # The dashboard's "by kind" chart: two of the three devices are in the user's tenant.
    by_kind = body.split("By kind", 1)[1].split("</section>", 1)[0]
    assert ">Devices</a>" in by_kind and '<span class="n">2</span>' in by_kind and ">3<" not in by_kind
