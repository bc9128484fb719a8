"""pynetbox, unmodified, against a live server: every software and services endpoint."""

from __future__ import annotations

import pytest
from pynetbox.core.app import App
from pynetbox.core.query import RequestError

from cmdb.core.models.registry import ConfigurationItem
from cmdb.services.relationships import ensure_builtin_types
from tests import factories as f

from ..api.pynb import crud_cycle

pytestmark = pytest.mark.live


@pytest.fixture
def apps(nb):
    ensure_builtin_types()  # a live-server test flushes the tables the migration filled
    nb.software = App(nb, "software")
    nb.services = App(nb, "services")
    yield nb
    nb.http_session.close()


def test_every_software_endpoint(apps):
    nb = apps
    w = f.world()
    web01, web02, db01 = (w.devices[n].ci_id for n in ("web01", "web02", "db01"))
    crud_cycle(nb.software.products, create={"vendor": "OpenSSL Project", "name": "OpenSSL", "slug": "openssl",
                                             "version_scheme": "debian"},
               create_nested=None,
               bulk=[{"vendor": "PostgreSQL", "name": f"PostgreSQL {i}", "slug": f"pg{i}"} for i in range(3)],
               change=("category", "database"), bulk_change=("category", "os"),
               filters={"vendor": "PostgreSQL"}, expect_filtered=3)
    ssl = nb.software.products.create(vendor="Debian", name="openssl", slug="deb-openssl", version_scheme="debian")
    crud_cycle(nb.software.versions, create={"product": ssl.id, "version": "3.0.11-1~deb12u2"},
               create_nested={"product": {"slug": "deb-openssl"}, "version": "3.0.13-1~deb12u1"},
               bulk=[{"product": ssl.id, "version": v} for v in ("3.0.11-1", "1:0.9.8", "3.0.9-1")],
               change=("end_of_support", "2026-06-30"), bulk_change=("description", "tracked"),
               lookup="version", filters={"product": "deb-openssl", "version__lt": "3.0.11-1"}, expect_filtered=2)
    versions = {v: nb.software.versions.create(product=ssl.id, version=v).id
                for v in ("3.0.11-1~deb12u2", "3.0.15-1~deb12u1", "1:0.9.8")}
    crud_cycle(nb.software.installations,
               create={"ci": web01, "version": versions["3.0.11-1~deb12u2"], "source": "ansible"},
               create_nested={"ci": {"name": "web02"}, "version": versions["3.0.11-1~deb12u2"], "source": "agent"},
               bulk=[{"ci": ci, "version": versions["3.0.15-1~deb12u1"], "source": "x"} for ci in (web01, web02, db01)],
               change=("source", "ansible-facts"), bulk_change=("source", "manual"),
               lookup=("source", "ansible"), filters={"product": "deb-openssl", "version__gte": "3.0.15"},
               expect_filtered=3)
    # "Which CIs run OpenSSL below 3.0.13?" as a sysadmin would ask it.
    nb.software.installations.create(ci=db01, version=versions["3.0.11-1~deb12u2"], source="agent")
    nb.software.installations.create(ci=web02, version=versions["1:0.9.8"], source="agent")
    old = nb.software.installations.filter(product="deb-openssl", version__lt="3.0.13")
    assert sorted(i.ci.name for i in old) == ["db01"]  # 1:0.9.8 has an epoch: newer than any 3.x
    crud_cycle(nb.software.licenses,
               create={"name": "CAD campus", "product": ssl.id, "metric": "device", "quantity": 10},
               create_nested={"name": "CAD faculty", "product": {"slug": "deb-openssl"}, "metric": "core",
                              "quantity": 64, "tenant": {"slug": "informatik"}},
               bulk=[{"name": f"Bulk {i}", "product": ssl.id, "metric": "user", "quantity": 5} for i in range(3)],
               change=("quantity", 20), bulk_change=("end_date", "2027-01-31"),
               filters={"metric": "user"}, expect_filtered=3)
    pool = nb.software.licenses.create(name="Office", product=ssl.id, metric="device", quantity=1)
    others = [ConfigurationItem.objects.create(kind="dcim.device", name=f"pc{i}").pk for i in range(3)]
    crud_cycle(nb.software.license_assignments, create={"license": pool.id, "ci": web01, "description": "one"},
               create_nested=None,
               bulk=[{"license": pool.id, "ci": ci, "description": f"pc{i}"} for i, ci in enumerate(others)],
               change=("description", "changed"), bulk_change=("description", "bulk"),
               lookup="description", filters={"license_id": pool.id}, expect_filtered=4)
    with pytest.raises(RequestError) as exc:
        nb.software.license_assignments.create(license=pool.id)
    assert exc.value.req.status_code == 400


def test_every_services_endpoint_and_impact(apps):
    nb = apps
    w = f.world()
    crud_cycle(nb.services.services,
               create={"name": "Mail", "slug": "mail", "sla_availability": 99.9, "support_hours": "24x7"},
               create_nested={"name": "LMS", "slug": "lms", "tenant": {"slug": "informatik"}},
               bulk=[{"name": f"Svc {i}", "slug": f"svc-{i}", "service_type": "technical"} for i in range(3)],
               change=("criticality", "critical"), bulk_change=("status", "planned"),
               filters={"service_type": "technical"}, expect_filtered=3)
    crud_cycle(nb.services.relationship_types,
               create={"name": "located in", "slug": "located_in", "inverse_name": "contains",
                       "allowed_target_kinds": ["dcim.rack"]},
               create_nested=None,
               bulk=[{"name": f"t{i}", "slug": f"t{i}", "inverse_name": f"it{i}"} for i in range(3)],
               change=("propagation", "none"), bulk_change=("description", "user-defined"),
               filters={"builtin": True}, expect_filtered=7)
    mail = nb.services.services.create(name="E-Mail", slug="email", sla_availability=99.5)
    web01, web02, sw01 = (w.devices[n].ci_id for n in ("web01", "web02", "sw01"))
    depends = nb.services.relationship_types.get(slug="depends_on")
    crud_cycle(nb.services.relationships,
               create={"source": mail.ci_id, "type": depends.id, "target": web01},
               create_nested={"source": mail.ci_id, "type": {"slug": "depends_on"}, "target": web02},
               bulk=[{"source": ci, "type": depends.id, "target": sw01} for ci in (web01, web02, w.vms["vm-a"].ci_id)],
               change=("description", "frontends"), bulk_change=("origin", "import"),
               lookup=("target_id", web01),
               filters={"target_id": sw01}, expect_filtered=3)
    with pytest.raises(RequestError) as exc:
        nb.services.relationships.create(source=web01, type=depends.id, target=web01)
    assert "itself" in str(exc.value.error)
    crud_cycle(nb.services.redundancy_groups, create={"name": "core pair", "min_up": 1},
               create_nested={"name": "cluster hosts", "min_up": 2, "tenant": {"slug": "informatik"}},
               bulk=[{"name": f"g{i}", "min_up": 1} for i in range(3)],
               change=("min_up", 2), bulk_change=("description", "bulk"), filters={"min_up": 1}, expect_filtered=4)
    group = nb.services.redundancy_groups.create(name="web pair", min_up=1)
    other = nb.services.redundancy_groups.create(name="other pair", min_up=1)
    crud_cycle(nb.services.redundancy_members, create={"group": group.id, "ci": web01},
               create_nested={"group": {"name": "web pair"}, "ci": {"name": "web02"}},
               bulk=[{"group": group.id, "ci": ci} for ci in (sw01, w.vms["vm-a"].ci_id, w.vms["vm-b"].ci_id)],
               change=("ci", w.devices["db01"].ci_id), bulk_change=("group", other.id),
               lookup=("ci_id", web01), filters={"group_id": group.id}, expect_filtered=5)

    # Mail depends on a web pair (1 of 2): one web server down degrades mail, both take it down.
    nb.services.redundancy_members.create([{"group": group.id, "ci": web01}, {"group": group.id, "ci": web02}])
    nb.services.relationships.create(source=mail.ci_id, type=depends.id, target=group.ci_id)
    base = nb.base_url
    one = nb.http_session.get(f"{base}/services/impact/", params={"ci": web01, "mode": "down"},
                              headers={"Authorization": f"Token {nb.token}"}).json()
    assert {a["name"]: a["state"] for a in one["affected"]}["E-Mail"] == "degraded"
    both = nb.http_session.get(f"{base}/services/impact/", params={"ci": [web01, web02]},
                               headers={"Authorization": f"Token {nb.token}"}).json()
    assert [s["name"] for s in both["services"]] == ["E-Mail"] and both["services"][0]["state"] == "down"
    stack = nb.http_session.get(f"{base}/services/stack/", params={"ci": mail.ci_id},
                                headers={"Authorization": f"Token {nb.token}"}).json()
    assert {"web pair", "web01", "web02"} <= {d["name"] for d in stack["dependencies"]}
    report = nb.http_session.get(f"{base}/software/compliance/", headers={"Authorization": f"Token {nb.token}"})
    assert report.status_code == 200 and "licenses" in report.json()
