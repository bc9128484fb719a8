"""The Alertmanager webhook with Alertmanager's real payload format (webhook version 4)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from rest_framework.test import APIClient

from cmdb.core.models import ObjectChange
from cmdb.users.models import ObjectPermission
from monitoring.models import Incident

from . import factories

pytestmark = pytest.mark.django_db

URL = "/api/monitoring/alertmanager/"


def payload(ci_id: int, *, status: str = "firing", fingerprint: str = "4a1c2b3d4e5f6071") -> dict[str, Any]:
    """What Alertmanager 0.25+ POSTs to a webhook_configs receiver (fields and shapes as documented)."""
    alert = {
        "status": status,
        "labels": {"alertname": "NodeDown", "ci_id": str(ci_id), "instance": "10.10.0.10:9100", "job": "nodes",
                   "severity": "critical"},
        "annotations": {"summary": "srv00 is down", "description": "node_exporter did not answer for 5m."},
        "startsAt": "2026-03-01T10:00:00.123456789Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-03-01T10:30:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1",
        "fingerprint": fingerprint,
    }
    return {
        "version": "4", "groupKey": '{}:{alertname="NodeDown"}', "truncatedAlerts": 0, "status": status,
        "receiver": "cmdb", "groupLabels": {"alertname": "NodeDown"},
        "commonLabels": dict(alert["labels"]), "commonAnnotations": dict(alert["annotations"]),
        "externalURL": "http://alertmanager:9093", "alerts": [alert],
    }


def test_open_update_resolve(api: APIClient) -> None:
    land = factories.landscape(servers=1, switches=0, vms=0)
    srv = land.devices[0]
    first = api.post(URL, payload(srv.ci_id), format="json")
    assert first.status_code == 200, first.content
    assert first.json()["results"][0]["result"] == "opened"
    incident = Incident.objects.get()
    assert (incident.status, incident.ci_id, incident.alertname, incident.severity) == (
        "open", srv.ci_id, "NodeDown", "critical")
    assert incident.summary == "srv00 is down" and incident.ended_at is None
    assert incident.impacted_services == []  # no service depends on srv00
    assert api.post(URL, payload(srv.ci_id), format="json").json()["results"][0]["result"] == "updated"
    incident.refresh_from_db()
    assert incident.notifications == 2 and Incident.objects.count() == 1
    resolved = api.post(URL, payload(srv.ci_id, status="resolved"), format="json")
    assert resolved.json()["results"][0]["result"] == "resolved"
    incident.refresh_from_db()
    assert incident.status == "resolved" and incident.ended_at.isoformat().startswith("2026-03-01T10:30")
    # A new firing of the same alert after resolution opens a new incident.
    assert api.post(URL, payload(srv.ci_id), format="json").json()["results"][0]["result"] == "opened"
    assert Incident.objects.filter(status="open").count() == 1 and Incident.objects.count() == 2
    changes = ObjectChange.objects.filter(changed_object_type__model="incident")
    assert set(changes.values_list("source", flat=True)) == {"alertmanager"} and changes.count() >= 4


def test_api_lists_incidents(api: APIClient) -> None:
    land = factories.landscape(servers=1, switches=0, vms=0)
    api.post(URL, payload(land.devices[0].ci_id), format="json")
    body = api.get("/api/monitoring/incidents/?status=open").json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["ci"]["id"] == land.devices[0].ci_id and row["alertname"] == "NodeDown"
    assert api.post("/api/monitoring/incidents/", {}, format="json").status_code == 405


def test_unknown_ci_still_records_the_incident(api: APIClient) -> None:
    assert api.post(URL, payload(999999), format="json").status_code == 200
    assert Incident.objects.get().ci is None


def test_bad_payloads_are_400_by_field(api: APIClient) -> None:
    land = factories.landscape(servers=1, switches=0, vms=0)
    good = payload(land.devices[0].ci_id)
    for mutate, field in [
        (lambda p: p.pop("alerts"), "alerts"),
        (lambda p: p["alerts"][0].update(status="burning"), "alerts"),
        (lambda p: p["alerts"][0].update(startsAt="yesterday"), "alerts"),
        (lambda p: p["alerts"][0].update(labels=["x"]), "alerts"),
        (lambda p: p.update(alerts=[]), "alerts"),
    ]:
        bad = copy.deepcopy(good)
        mutate(bad)
        response = api.post(URL, bad, format="json")
        assert response.status_code == 400, (field, response.content)
        assert field in response.json()
    assert api.post(URL, [1, 2], format="json").status_code == 400
    assert Incident.objects.count() == 0


def test_needs_a_write_token_with_incident_rights(client: Any, client_for: Any, superuser: Any,
                                                  make_user: Any) -> None:
    land = factories.landscape(servers=1, switches=0, vms=0)
    body = payload(land.devices[0].ci_id)
    assert client.post(URL, body, content_type="application/json").status_code in (401, 403)
    assert client_for(superuser, write=False).post(URL, body, format="json").status_code == 403
    viewer = make_user("viewer")
    perm = ObjectPermission.objects.create(name="view", object_types=["*"], actions=["view"])
    perm.users.add(viewer)
    assert client_for(viewer).post(URL, body, format="json").status_code == 403
    assert Incident.objects.count() == 0


def test_tenant_scoped_webhook_user_cannot_touch_other_tenants(client_for: Any, make_user: Any) -> None:
    land = factories.landscape(servers=2, switches=0, vms=0)
    rz_server, inf_server = land.devices  # srv00 belongs to rechenzentrum, srv01 to informatik
    user = make_user("inf-alerts")
    perm = ObjectPermission.objects.create(name="inf", object_types=["*"], actions=["view", "add", "change"])
    perm.users.add(user)
    perm.tenants.add(land.tenants["inf"])
    client = client_for(user)
    assert client.post(URL, payload(inf_server.ci_id), format="json").status_code == 200
    assert client.post(URL, payload(rz_server.ci_id, fingerprint="ffff"), format="json").status_code == 403
    assert list(Incident.objects.values_list("ci_id", flat=True)) == [inf_server.ci_id]
