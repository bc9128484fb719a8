"""The fast ingest paths: hand-written SQL, set-based software writes, one change-log append per report.

These check that the shortcuts still do everything the slow paths did: a version first seen in a
re-ingest is created and change-logged, an upgrade moves the row, permissions still follow the
user's tenants, and the number of queries of a re-ingest stays constant.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from cmdb.core.changelog import verify
from cmdb.core.models import ObjectChange
from cmdb.software.models import SoftwareInstallation, SoftwareVersion
from cmdb.tenancy.models import Tenant
from cmdb.users.models import ObjectPermission
from discovery.models import Host, IngestRecord
from discovery.services import ingest_report

from .helpers import report

pytestmark = pytest.mark.django_db
URL = "/api/discovery/reports/"


def pkgs(n: int, **override: str) -> list[tuple[str, str]]:
    return [(f"pkg{i}", override.get(f"pkg{i}", f"1.{i}")) for i in range(n)]


def test_reingest_with_a_new_version_is_constant_in_queries(django_assert_max_num_queries: Any) -> None:
    ingest_report(report(serial="S1", hostname="h1", software=pkgs(200)))
    # Reference data for later hosts is cached per process: a second host's first inventory.
    ingest_report(report(serial="S2", hostname="h2", software=pkgs(200)))
    # 15 on PostgreSQL here (the per-process product cache fills on commit, which a test transaction never
    # reaches): 29 before the fast paths, 17 before the change log drew its ids with the chain head and
    # inserted its record with one INSERT; through the API add authentication, BEGIN and COMMIT.
    limit = 15 if connection.vendor == "postgresql" else 20
    with django_assert_max_num_queries(limit):
        result = ingest_report(report(serial="S1", hostname="h1", software=pkgs(200, pkg3="9.0", pkg4="9.1")))
    assert result.action == "update"
    assert result.software["upgraded"] == 2 and result.software["unchanged"] == 198


def test_a_tenant_limited_reingest_adds_at_most_two_queries(django_assert_max_num_queries: Any,
                                                             make_user: Any) -> None:
    """The reporter's scope (discovery.scope) costs a tenant-limited agent one query before identification
    and one after the writes, whatever the number of packages; an unlimited one nothing (tests/security)."""
    from django.contrib.auth import get_user_model

    from cmdb.users.permissions import grants_for

    tenant = Tenant.objects.create(name="Mine", slug="mine")
    user = make_user("carol")
    perm = ObjectPermission.objects.create(name="discovery mine", object_types=["discovery.host"],
                                           actions=["view", "add", "change"])
    perm.users.add(user)
    perm.tenants.add(tenant)
    ingest_report(report(serial="S1", hostname="h1", software=pkgs(200)), user=user)
    ingest_report(report(serial="S2", hostname="h2", software=pkgs(200)), user=user)
    user = get_user_model().objects.get(pk=user.pk)
    grants_for(user)  # the API's permission check loads the grants once per request
    limit = (15 if connection.vendor == "postgresql" else 20) + 2
    with django_assert_max_num_queries(limit):
        result = ingest_report(report(serial="S1", hostname="h1", software=pkgs(200, pkg3="9.0", pkg4="9.1")),
                               user=user)
    assert result.action == "update" and result.software["upgraded"] == 2
    assert Host.objects.get(ci_id=result.ci_id).tenant_id == tenant.pk


def test_version_first_seen_in_a_reingest_is_created_and_change_logged() -> None:
    first = ingest_report(report(serial="S1", hostname="h1", software=pkgs(20)))
    result = ingest_report(report(serial="S1", hostname="h1", software=pkgs(20, pkg3="2:7.0-1")))
    assert result.software["upgraded_names"] == ["pkg3 1.3 -> 2:7.0-1"]
    version = SoftwareVersion.objects.select_related("product").get(product__name="pkg3", version="2:7.0-1")
    inst = SoftwareInstallation.objects.get(ci_id=first.ci_id, product=version.product)
    assert inst.version_id == version.pk and inst.source == "agent"
    # The version row is complete (sort key of its scheme) and its creation is in the log with its final state.
    version.save()  # recomputes the sort key the way a manual save would
    assert SoftwareVersion.objects.get(pk=version.pk).sort_key == version.sort_key
    record = ObjectChange.objects.get(changed_object_type=ContentType.objects.get_for_model(SoftwareVersion),
                                      changed_object_id=version.pk, action="create")
    assert record.source == "discovery:agent:test-agent"
    assert record.postchange_data["version"] == "2:7.0-1"
    assert record.postchange_data["sort_key"] == version.sort_key
    # The software summary of the host went in the same append, with the same request.
    summary = ObjectChange.objects.get(changed_object_type=ContentType.objects.get_for_model(Host),
                                       request_id=record.request_id)
    assert summary.postchange_data["upgraded"] == ["pkg3 1.3 -> 2:7.0-1"]
    assert verify().ok


def test_concurrently_created_version_is_reused_not_duplicated() -> None:
    """A version that appeared since the look-up (another report) is read back, not inserted twice."""
    from discovery import software

    ingest_report(report(serial="S1", hostname="h1", software=pkgs(5)))
    # Another worker created pkg1 3.0 meanwhile; this process has not seen it.
    ingest_report(report(serial="S2", hostname="h2", software=pkgs(5, pkg1="3.0")))
    software.clear_cache()
    found = software._existing_versions({("", "pkg1", "3.0"): "debian"}, partial=True)
    assert found and len(found) == 1
    if connection.vendor == "postgresql":
        from django.utils import timezone

        again = software._insert_versions({("", "pkg1", "3.0"): "debian"}, timezone.now())
        assert again[("", "pkg1", "3.0")].pk == found[("", "pkg1", "3.0")].pk
    assert SoftwareVersion.objects.filter(product__name="pkg1", version="3.0").count() == 1


def test_tenant_limited_user_may_only_update_hosts_of_its_tenants(client_for: Any, make_user: Any) -> None:
    mine, other = Tenant.objects.create(name="Mine", slug="mine"), Tenant.objects.create(name="Other", slug="other")
    user = make_user("carol")
    perm = ObjectPermission.objects.create(name="discovery mine", object_types=["discovery.host"],
                                           actions=["view", "add", "change"])
    perm.users.add(user)
    perm.tenants.add(mine)
    created = ingest_report(report(serial="S7", hostname="h7", os_name="Linux"))
    Host.objects.filter(pk=created.host_id).update(tenant=other)
    records = IngestRecord.objects.count()
    client = client_for(user)
    body = report(serial="S7", hostname="h7", os_name="Debian")
    assert client.post(URL, body, format="json").status_code == 403
    assert IngestRecord.objects.count() == records and Host.objects.get(pk=created.host_id).os_name == "Linux"
    Host.objects.filter(pk=created.host_id).update(tenant=mine)
    response = client.post(URL, body, format="json")
    assert response.status_code == 200, response.content
    assert Host.objects.get(pk=created.host_id).os_name == "Debian"
