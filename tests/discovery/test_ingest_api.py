"""The report API: the host agent's report of this machine, malformed reports, permissions."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from django.contrib.contenttypes.models import ContentType

from cmdb.core.models import ObjectChange
from cmdb.software.models import SoftwareInstallation, SoftwareProduct
from discovery.agents import host as host_agent
from discovery.agents.report import push, validation_errors
from discovery.models import AttributeSource, Host, Identifier, IngestRecord

from .helpers import report

URL = "/api/discovery/reports/"


@pytest.mark.live
def test_host_agent_report_of_this_machine_validates_and_ingests(live_server: Any, transactional_db: Any,
                                                                  superuser: Any, make_token: Any) -> None:
    data = host_agent.collect()
    assert validation_errors(data) == []
    assert data["identifiers"], "the agent found no identifier at all"
    token = make_token(superuser)
    first = push(data, live_server.url, token)
    assert first["action"] == "create"
    host = Host.objects.get(pk=first["host"])
    assert host.ci_id == first["ci"]
    assert host.name == data["attributes"]["hostname"]
    assert host.os_name == data["attributes"].get("os_name", "")
    assert SoftwareInstallation.objects.filter(ci_id=host.ci_id).count() == len(
        {(p["name"], p["version"]) for p in data.get("software", [])})
    # The same report again identifies the same CI and changes nothing.
    second = push(data, live_server.url, token)
    assert (second["ci"], second["action"]) == (first["ci"], "noop")
    assert second["rule"] in {"serial", "uuid", "mac", "fqdn"}
    assert Host.objects.count() == 1
    sources = set(ObjectChange.objects.filter(changed_object_type=ContentType.objects.get_for_model(Host),
                                              changed_object_id=host.pk).values_list("source", flat=True))
    assert sources == {"discovery:agent:host-agent"}


def _counts() -> tuple[int, ...]:
    return (Host.objects.count(), Identifier.objects.count(), AttributeSource.objects.count(),
            IngestRecord.objects.count(), ObjectChange.objects.count(), SoftwareProduct.objects.count(),
            SoftwareInstallation.objects.count())


@pytest.mark.parametrize(("mutate", "path"), [
    (lambda r: r["software"][1].update(version=""), "$.software[1].version"),
    (lambda r: r["identifiers"].update(mac_addresses=["00:11:22:33:44:55", "nonsense"]),
     "$.identifiers.mac_addresses[1]"),
    (lambda r: r.pop("source"), "$"),
    (lambda r: r["attributes"].update(memory_mb=-1), "$.attributes.memory_mb"),
    (lambda r: r.update(schema_version="2"), "$.schema_version"),
    (lambda r: r.update(collected_at="2026-13-45T99:00:00Z"), "$.collected_at"),
    (lambda r: r.update(interfaces=[{"mtu": 1500}]), "$.interfaces[0]"),
    (lambda r: r.update(surprise=True), "$"),
])
def test_malformed_report_is_rejected_with_its_path_and_nothing_written(api: Any, mutate: Any, path: str) -> None:
    good = report(serial="S1", hostname="web1", software=[("nginx", "1.22"), ("curl", "7.88")])
    assert api.post(URL, good, format="json").status_code == 201
    before = _counts()
    bad = report(serial="S2", hostname="web2", software=[("nginx", "1.24"), ("openssl", "3.0")])
    mutate(bad)
    response = api.post(URL, bad, format="json")
    assert response.status_code == 400, response.content
    assert path in response.json(), response.json()
    assert _counts() == before


def test_non_json_and_non_object_bodies_are_400(api: Any) -> None:
    assert api.post(URL, "not json", content_type="application/json").status_code == 400
    assert api.post(URL, [1, 2], format="json").status_code == 400


def test_anonymous_and_read_only_tokens_cannot_post(client: Any, client_for: Any, superuser: Any) -> None:
    body = report(serial="S9", hostname="x")
    assert client.post(URL, body, content_type="application/json").status_code in (401, 403)
    assert client_for(superuser, write=False).post(URL, body, format="json").status_code == 403
    assert Host.objects.count() == 0


def test_user_without_discovery_grant_is_refused(client_for: Any, make_user: Any) -> None:
    response = client_for(make_user("bob")).post(URL, report(serial="S9", hostname="x"), format="json")
    assert response.status_code == 403
    assert Host.objects.count() == 0


def test_schema_is_served(api: Any) -> None:
    assert api.get(URL).json()["$id"] == "urn:cmdb:discovery:report:1"


@pytest.mark.live
def test_push_error_names_the_path(live_server: Any, transactional_db: Any, superuser: Any,
                                   make_token: Any) -> None:
    bad = report(serial="S3", hostname="h")
    bad["identifiers"]["system_uuid"] = "not-a-uuid"
    with pytest.raises(RuntimeError, match=r"identifiers\.system_uuid"):
        push(bad, live_server.url, make_token(superuser))
    assert requests.get(f"{live_server.url}/api/status/", timeout=10).status_code in (200, 401, 403)
