"""Source precedence, software diffs, staleness, metrics and the reconciliation view."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from cmdb.core.models import ObjectChange
from cmdb.software.models import SoftwareInstallation
from cmdb.tenancy.models import Contact
from discovery import metrics
from discovery.models import AttributeSource, Host
from discovery.services import ingest_report
from discovery.staleness import flag_stale

from .helpers import report

pytestmark = pytest.mark.django_db


def claim(ci_id: int, attribute: str) -> str:
    return AttributeSource.objects.get(ci_id=ci_id, attribute=attribute).source


def test_agent_beats_network_scan_for_the_os() -> None:
    scan = ingest_report(report(source="network", serial="S1", hostname="h1", os_name="Linux"))
    assert claim(scan.ci_id, "os_name") == "network"
    agent = ingest_report(report(source="agent", serial="S1", hostname="h1", os_name="Debian GNU/Linux",
                                 os_version="12"))
    assert "os_name" in agent.changed and claim(agent.ci_id, "os_name") == "agent"
    again = ingest_report(report(source="network", serial="S1", hostname="h1", os_name="Linux", os_version="?"))
    assert again.skipped == {"os_name": "agent", "os_version": "agent"}
    host = Host.objects.get()
    assert (host.os_name, host.os_version) == ("Debian GNU/Linux", "12")


def test_configurable_precedence(settings: Any) -> None:
    settings.CMDB_DISCOVERY = {"PRECEDENCE": {"default": ["manual", "network", "agent"]}}
    ingest_report(report(source="agent", serial="S1", hostname="h1", kernel="6.1"))
    result = ingest_report(report(source="network", serial="S1", hostname="h1", kernel="6.2"))
    assert "kernel" in result.changed
    assert Host.objects.get().kernel == "6.2"


def test_manual_edit_through_the_api_beats_discovery(api: Any) -> None:
    created = ingest_report(report(serial="S1", hostname="h1", os_name="Debian"))
    host = Host.objects.get()
    owner = Contact.objects.create(name="Ada")
    response = api.patch(f"/api/discovery/hosts/{host.pk}/", {"name": "h1-renamed", "owner": owner.pk},
                         format="json")
    assert response.status_code == 200, response.content
    assert claim(created.ci_id, "name") == "manual"
    result = ingest_report(report(serial="S1", hostname="h1", os_name="Debian 12"))
    assert result.skipped == {"name": "manual"}
    host.refresh_from_db()
    assert (host.name, host.owner_id, host.os_name) == ("h1-renamed", owner.pk, "Debian 12")
    page = api.get(f"/api/discovery/hosts/{host.pk}/reconciliation/").json()
    by_attr = {a["attribute"]: a for a in page["attributes"]}
    assert by_attr["name"]["source"] == "manual" and by_attr["os_name"]["source"] == "agent"
    assert [i["action"] for i in page["ingests"]] == ["update", "create"]


def test_edit_outside_the_api_is_detected_as_manual() -> None:
    created = ingest_report(report(serial="S1", hostname="h1", cpu_model="Xeon"))
    Host.objects.filter(ci_id=created.ci_id).update(cpu_model="Xeon Gold (typed by hand)")
    result = ingest_report(report(serial="S1", hostname="h1", cpu_model="Xeon"))
    assert result.skipped == {"cpu_model": "manual"}
    assert claim(created.ci_id, "cpu_model") == "manual"


def test_stale_claim_of_a_stronger_source_expires() -> None:
    old = timezone.now() - dt.timedelta(days=60)
    ingest_report(report(source="agent", serial="S1", hostname="h1", os_name="CentOS"), now=old)
    result = ingest_report(report(source="network", serial="S1", hostname="h1", os_name="Rocky"))
    assert "os_name" in result.changed


def pkgs(n: int, **changes: str) -> list[tuple[str, str]]:
    base = {f"pkg{i}": f"1.{i}" for i in range(n)}
    base.update(changes)
    return [(k, v) for k, v in base.items() if v]


@pytest.mark.parametrize("records", ["summary", "each"])
def test_software_added_removed_upgraded_with_first_and_last_seen(django_assert_max_num_queries: Any, settings: Any,
                                                                   records: str) -> None:
    settings.CMDB_DISCOVERY = {"SOFTWARE_CHANGE_RECORDS": records}
    t0 = timezone.now() - dt.timedelta(days=2)
    first = ingest_report(report(serial="S1", hostname="h1", software=pkgs(200)), now=t0)
    assert first.software["added"] == 200
    assert SoftwareInstallation.objects.filter(ci_id=first.ci_id, first_seen=t0).count() == 200
    t1 = t0 + dt.timedelta(days=1)
    # pkg1 upgraded, pkg2 removed, extra added: the query count does not depend on the package count.
    with django_assert_max_num_queries(40):  # ~25 on SQLite, ~34 on PostgreSQL, for any package count
        result = ingest_report(report(serial="S1", hostname="h1", software=pkgs(200, pkg1="2.0", pkg2="",
                                                                               extra="0.1")), now=t1)
    assert {k: result.software[k] for k in ("added", "removed", "upgraded", "unchanged")} == {
        "added": 1, "removed": 1, "upgraded": 1, "unchanged": 198}
    assert result.software["upgraded_names"] == ["pkg1 1.1 -> 2.0"]
    rows = {i.version.product.name: i for i in SoftwareInstallation.objects.filter(ci_id=first.ci_id)
            .select_related("version__product")}
    assert "pkg2" not in rows and rows["extra"].first_seen == t1
    assert rows["pkg1"].version.version == "2.0" and rows["pkg1"].first_seen == t1
    assert rows["pkg5"].first_seen == t0 and rows["pkg5"].last_seen == t1
    # The host's CI survives the removal of one of its packages.
    assert Host.objects.filter(ci_id=first.ci_id).exists()
    last = ObjectChange.objects.filter(request_id=ObjectChange.objects.latest("id").request_id)
    assert set(last.values_list("source", flat=True)) == {"discovery:agent:test-agent"}
    per_installation = last.filter(changed_object_type=ContentType.objects.get_for_model(SoftwareInstallation))
    if records == "each":
        assert sorted(per_installation.values_list("action", flat=True)) == ["create", "delete", "update"]
    else:
        assert not per_installation.exists()
        summary = last.get(changed_object_type=ContentType.objects.get_for_model(Host))
        assert summary.prechange_data == {"software": ["pkg1 1.1", "pkg2 1.2"]}
        assert summary.postchange_data["software"] == ["extra 0.1", "pkg1 2.0"]
    from cmdb.core.changelog import verify

    assert verify().ok


def test_unchanged_reingest_writes_no_software_rows() -> None:
    first = ingest_report(report(serial="S1", hostname="h1", software=pkgs(50)))
    before = ObjectChange.objects.count()
    result = ingest_report(report(serial="S1", hostname="h1", software=pkgs(50)))
    assert result.action == "noop" and result.software["unchanged"] == 50
    assert ObjectChange.objects.count() == before
    assert SoftwareInstallation.objects.filter(ci_id=first.ci_id).count() == 50


def test_staleness_flags_never_deletes_and_is_exported() -> None:
    now = timezone.now()
    old = ingest_report(report(serial="OLD", hostname="old"), now=now - dt.timedelta(days=45))
    ingest_report(report(serial="NEW", hostname="new"), now=now)
    assert flag_stale(now=now) == 1
    assert flag_stale(now=now) == 0
    assert Host.objects.get(ci_id=old.ci_id).stale and not Host.objects.get(serial="NEW").stale
    assert Host.objects.count() == 2
    families = {m.name: m for m in metrics.collect()}
    stale = {s.labels["role"]: s.value for s in families["cmdb_discovery_stale_cis"].samples}
    assert stale == {"host": 1}
    # Seen again: no longer stale.
    ingest_report(report(serial="OLD", hostname="old"), now=now)
    assert not Host.objects.get(ci_id=old.ci_id).stale


def test_staleness_change_record_shows_only_the_flag_changing() -> None:
    """A tagged host flagged stale: the record's before and after differ in ``stale`` alone (tags included)."""
    from cmdb.extras.models import Tag

    now = timezone.now()
    old = ingest_report(report(serial="OLD", hostname="old"), now=now - dt.timedelta(days=45))
    host = Host.objects.get(ci_id=old.ci_id)
    host.tags.add(Tag.objects.create(name="lab", slug="lab"))
    assert flag_stale(now=now) == 1
    record = ObjectChange.objects.filter(changed_object_type=ContentType.objects.get_for_model(Host),
                                         changed_object_id=host.pk, source="discovery:staleness").get()
    changed = {k for k in record.postchange_data if record.prechange_data.get(k) != record.postchange_data[k]}
    assert changed == {"stale"}
    assert record.prechange_data["tags"] == ["lab"]


def test_metrics_use_a_constant_number_of_queries(django_assert_max_num_queries: Any) -> None:
    for i in range(5):
        ingest_report(report(serial=f"S{i}", hostname=f"h{i}"))
    with django_assert_max_num_queries(2):
        list(metrics.collect())


def test_reconciliation_page_and_panel(client: Any, superuser: Any, make_user: Any) -> None:
    created = ingest_report(report(serial="S1", hostname="h1", os_name="Debian"))
    ingest_report(report(source="network", serial="S1", hostname="h1", os_name="Linux"))
    url = f"/discovery/reconciliation/{created.ci_id}/"
    assert client.get(url).status_code == 302  # login required
    client.force_login(superuser)
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Reconciliation of h1" in html and "os_name" in html and "agent" in html
    assert "os_name (agent)" in html  # the network scan's OS was kept back by the agent's claim
    detail = client.get(f"/discovery/hosts/{created.host_id}/")
    assert detail.status_code == 200 and url in detail.content.decode()
    # A user without view rights on discovered hosts sees nothing.
    client.force_login(make_user("eve"))
    assert client.get(url).status_code == 404
