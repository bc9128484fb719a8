"""Amplification: what one request may make the server read, compute, store and send back.

* Request bodies: every view has a limit (``REQUEST_BODY_LIMITS``, named by the view's
  ``body_limit``); a larger body is refused with 413 before it is read (``Content-Length``) or
  as soon as it is over (chunked), through Django's test client and through gunicorn's own
  HTTP parser.
* Discovery reports: the schema's limits and the report's size are checked first, and an error
  never repeats the input back.
* The Alertmanager webhook handles a notification in bulk: the same outcome as one alert after
  the other, a number of queries that does not grow with the alerts.
* The installations list is read by the fast reader: a number of queries that does not grow
  with the rows, and the same rows as DRF's serializer gives.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import io
import json
import socket
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from cmdb.core.models import ObjectChange
from discovery import schema
from discovery.models import Host
from discovery.software import clear_cache
from monitoring.models import Incident
from tests.discovery.helpers import report

pytestmark = pytest.mark.django_db

REPORTS = "/api/discovery/reports/"
ALERTMANAGER = "/api/monitoring/alertmanager/"

#: Distinct small limits, so each test also shows which limit applies to which view.
SMALL = {"default": 1000, "bulk": 2000, "import": 3000, "discovery_report": 4000, "alertmanager": 5000}


@pytest.fixture(autouse=True)
def _fresh_version_cache() -> Iterator[None]:
    clear_cache()  # the ingest's per-process version cache must not outlive a test's database
    yield
    clear_cache()


@pytest.fixture
def small_limits(settings: Any) -> dict[str, int]:
    settings.REQUEST_BODY_LIMITS = dict(SMALL)
    return SMALL


class CountingReader:
    """A request body that records how much of it the server read."""

    def __init__(self, data: bytes) -> None:
        self._stream = io.BytesIO(data)
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self.consumed += len(chunk)
        return chunk

    def readline(self, size: int = -1) -> bytes:
        line = self._stream.readline(size)
        self.consumed += len(line)
        return line


def _client(kind: str, superuser: Any, make_token: Any) -> Any:
    if kind == "api":
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(superuser)}")
        return client
    from django.test import Client

    client = Client()
    if kind == "ui":
        client.force_login(superuser)
    return client


#: (limit name, client kind, method, path, content type)
LIMITED = [
    ("discovery_report", "api", "POST", REPORTS, "application/json"),
    ("alertmanager", "api", "POST", ALERTMANAGER, "application/json"),
    ("bulk", "api", "POST", "/api/dcim/devices/", "application/json"),
    ("bulk", "api", "PATCH", "/api/dcim/devices/", "application/json"),
    ("import", "ui", "POST", "/dcim/devices/import/", "multipart/form-data; boundary=xyz"),
    ("default", "anonymous", "POST", "/login/", "application/x-www-form-urlencoded"),
]


@pytest.mark.parametrize(("name", "kind", "method", "path", "content_type"), LIMITED)
def test_over_the_limit_by_content_length_is_413_and_nothing_is_read(
        small_limits: dict[str, int], superuser: Any, make_token: Any, name: str, kind: str, method: str, path: str,
        content_type: str) -> None:
    limit = small_limits[name]
    body = CountingReader(b"x" * (limit + 1))
    response = _client(kind, superuser, make_token).generic(
        method, path, b"", content_type, CONTENT_LENGTH=str(limit + 1), **{"wsgi.input": body})
    assert response.status_code == 413, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["limit"] == limit and name in response.json()["detail"]
    assert body.consumed == 0


@pytest.mark.parametrize(("name", "kind", "method", "path", "content_type"), LIMITED)
def test_at_the_limit_the_view_gets_the_body(small_limits: dict[str, int], superuser: Any, make_token: Any,
                                              name: str, kind: str, method: str, path: str,
                                              content_type: str) -> None:
    limit = small_limits[name]
    response = _client(kind, superuser, make_token).generic(method, path, b" " * limit, content_type)
    assert response.status_code != 413
    assert response.status_code < 500, response.content


@pytest.mark.parametrize(("name", "kind", "method", "path", "content_type"), LIMITED)
def test_a_chunked_body_is_counted_while_read(small_limits: dict[str, int], superuser: Any, make_token: Any,
                                              name: str, kind: str, method: str, path: str, content_type: str) -> None:
    """What gunicorn hands on for ``Transfer-Encoding: chunked``: no Content-Length, a de-chunked stream."""
    limit = small_limits[name]
    body = CountingReader(b"x" * (limit * 5))
    response = _client(kind, superuser, make_token).generic(
        method, path, b"", content_type, CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": body, "wsgi.input_terminated": True})
    assert response.status_code == 413, response.content
    assert body.consumed == limit + 1  # one byte past the limit, not the rest


def test_the_defaults_refuse_the_fifty_megabyte_report_unread(api: APIClient, settings: Any) -> None:
    from django.conf import settings as live

    assert live.REQUEST_BODY_LIMITS["discovery_report"] < 50 << 20
    body = CountingReader(b"")
    response = api.generic("POST", REPORTS, b"", "application/json", CONTENT_LENGTH=str(50 << 20),
                           **{"wsgi.input": body})
    assert response.status_code == 413 and body.consumed == 0
    assert Host.objects.count() == 0


def test_a_chunked_report_within_the_limit_is_ingested(api: APIClient) -> None:
    """Django alone reads a chunked body as empty; the limit's reader hands it on counted."""
    data = orjson.dumps(report(serial="CHUNK-1", hostname="chunky"))
    response = api.generic("POST", REPORTS, b"", "application/json", CONTENT_LENGTH="",
                           HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input": io.BytesIO(data),
                                                                 "wsgi.input_terminated": True})
    assert response.status_code == 201, response.content
    assert Host.objects.get().name == "chunky"


def test_the_settings_parse_sizes() -> None:
    from cmdb.settings import _env_size

    with pytest.MonkeyPatch.context() as mp:
        for text, size in (("1048576", 1 << 20), ("512K", 512 << 10), ("8M", 8 << 20), ("1g", 1 << 30),
                           ("2MB", 2 << 20)):
            mp.setenv("CMDB_TEST_SIZE", text)
            assert _env_size("CMDB_TEST_SIZE", "1") == size
        for bad in ("lots", "-1", "0", "8X"):
            mp.setenv("CMDB_TEST_SIZE", bad)
            with pytest.raises(ValueError, match="CMDB_TEST_SIZE"):
                _env_size("CMDB_TEST_SIZE", "1")


# --- through gunicorn's HTTP parser ------------------------------------------------------------------


@contextlib.contextmanager
def _keep_test_connection() -> Iterator[None]:
    """As Django's test client does: the request signals must not close the test's database connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def gunicorn_exchange(wire: Iterable[bytes]) -> tuple[int, bytes]:
    """One request, sent as raw bytes, through gunicorn's request parser and WSGI environ into Django.

    This is what gunicorn's sync worker does with a connection (``RequestParser``, ``wsgi.create``,
    the application, ``resp.write``), on a socket pair instead of a listening socket so that the
    test's database transaction is the application's.  The server side has a 20 s timeout: a server
    that waited for a body it should not read fails the test instead of hanging it.
    """
    from gunicorn.config import Config
    from gunicorn.http import RequestParser, wsgi

    server, client = socket.socketpair()
    server.settimeout(20)
    client.settimeout(20)

    def send() -> None:
        with contextlib.suppress(OSError):  # the server may answer and close before all is sent
            for part in wire:
                client.sendall(part)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    cfg = Config()
    peer = ("127.0.0.1", 50000)
    request = next(RequestParser(cfg, server, peer))
    resp, environ = wsgi.create(request, server, peer, ("127.0.0.1", 8000), cfg)
    resp.force_close()
    with _keep_test_connection():
        body = WSGIHandler()(environ, resp.start_response)
        try:
            for item in body:
                resp.write(item)
            resp.close()
        finally:
            body.close()
    server.shutdown(socket.SHUT_WR)
    answer = b""
    while chunk := client.recv(65536):
        answer += chunk
    server.close()
    sender.join(timeout=5)
    client.close()
    head, _, content = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), content


def _head(method: str, path: str, token: str, extra: str) -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {token}\r\n"
            f"Content-Type: application/json\r\n{extra}\r\n").encode()


def _chunked(data: bytes, size: int = 1000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        part = data[start:start + size]
        yield f"{len(part):x}\r\n".encode() + part + b"\r\n"
    yield b"0\r\n\r\n"


def test_gunicorn_content_length_over_the_limit_is_answered_without_the_body(superuser: Any,
                                                                           make_token: Any) -> None:
    """Only the headers are ever sent: reading the announced 50 MB would wait for the timeout."""
    status, content = gunicorn_exchange([_head("POST", REPORTS, make_token(superuser), "Content-Length: 52428800\r\n")])
    assert status == 413
    assert json.loads(content)["limit"] < 50 << 20


def test_gunicorn_chunked_over_the_limit_is_413(small_limits: dict[str, int], superuser: Any,
                                                make_token: Any) -> None:
    wire = [_head("POST", REPORTS, make_token(superuser), "Transfer-Encoding: chunked\r\n"),
            *_chunked(b" " * (small_limits["discovery_report"] * 10))]
    status, content = gunicorn_exchange(wire)
    assert status == 413 and json.loads(content)["limit"] == small_limits["discovery_report"]
    assert Host.objects.count() == 0


def test_gunicorn_chunked_report_within_the_limit_is_ingested(superuser: Any, make_token: Any) -> None:
    data = orjson.dumps(report(serial="GUNI-1", hostname="over-the-wire"))
    head = _head("POST", REPORTS, make_token(superuser), "Transfer-Encoding: chunked\r\n")
    status, content = gunicorn_exchange([head, *_chunked(data, 100)])
    assert status == 201, content
    assert Host.objects.get().name == "over-the-wire"


# --- discovery reports: limits first, never echoed ------------------------------------------------------


def _small(response: Any, most: int = 4096) -> dict[str, Any]:
    assert len(response.content) < most, response.content[:500]
    return response.json()


def test_a_report_over_max_items_is_refused_by_its_length_without_echo(api: APIClient) -> None:
    bad = report(serial="MANY-1", hostname="many")
    bad["software"] = [{"name": f"pkg-{i:06d}", "version": "1.0"} for i in range(110_000)]  # ~3 MB
    changes = ObjectChange.objects.count()
    response = api.post(REPORTS, orjson.dumps(bad), content_type="application/json")
    assert response.status_code == 400
    errors = _small(response)
    assert errors == {"$.software": ["110,000 items, more than the limit of 20,000."]}
    assert b"pkg-" not in response.content
    assert Host.objects.count() == 0 and ObjectChange.objects.count() == changes


def test_the_limits_are_checked_before_the_schema_validator(monkeypatch: Any) -> None:
    def no_validator() -> Any:
        raise AssertionError("the schema validator ran before the limits")

    bad = report(serial="MANY-2")
    bad["interfaces"] = [{"name": f"eth{i}"} for i in range(5000)]
    monkeypatch.setattr(schema, "fast_validator", no_validator)
    with pytest.raises(schema.ReportInvalid) as caught:
        schema.validate(bad)
    assert caught.value.errors == {"$.interfaces": ["5,000 items, more than the limit of 4,096."]}
    too_big = report(serial="BIG-2", hostname="h" * 100, sys_descr="x" * 900)
    too_big["software"] = [{"name": f"pkg-{i:05d}-" + "n" * 80, "version": "v" * 100} for i in range(20_000)]
    with pytest.raises(schema.ReportInvalid) as caught:
        schema.validate(too_big)
    assert caught.value.errors == {"$": ["The report is larger than the limit of 4,194,304 bytes as JSON."]}


@pytest.mark.parametrize(("mutate", "path", "message", "needle"), [
    (lambda r: r["identifiers"].update(hostname="h" * 200_000), "$.identifiers.hostname",
     "200,000 characters, more than the limit of 255.", "h" * 100),
    (lambda r: r["attributes"].update(sys_descr="d" * 200_000), "$.attributes.sys_descr",
     "200,000 characters, more than the limit of 1,000.", "d" * 100),
    (lambda r: r["identifiers"].update(mac_addresses=["m" * 200_000]), "$.identifiers.mac_addresses[0]",
     "'" + "m" * schema.QUOTE + "'… does not match '^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$'", "m" * 100),
    (lambda r: r["source"].update(type="t" * 200_000), "$.source.type",
     "'" + "t" * schema.QUOTE + "'… is not one of ['agent', 'network', 'ansible', 'libvirt', 'kubernetes', 'import']",
     "t" * 100),
    (lambda r: r.update({"u" * 200_000: 1}), "$",
     "Additional properties are not allowed ('" + "u" * schema.QUOTE + "'… was unexpected)", "u" * 100),
    (lambda r: r["attributes"].update(extra={f"k{i}": i for i in range(10_000)}), "$.attributes.extra",
     "10,000 properties, more than the limit of 64.", "k9999"),
    (lambda r: r["attributes"].update(extra={"k" * 5000: 1}), "$.attributes.extra",
     "Property name: 5,000 characters, more than the limit of 100.", "k" * 100),
    (lambda r: r["attributes"].update(extra={"n": 10 ** 40}), "$.attributes.extra.n",
     "an integer of 133 bits is greater than the maximum of 9223372036854775807", "1" + "0" * 40),
    (lambda r: r.update(software=[{"name": "x" * 150_000, "version": "1"}]), "$.software[0].name",
     "150,000 characters, more than the limit of 100.", "x" * 100),
])
def test_errors_name_the_path_and_limit_and_quote_little(api: APIClient, mutate: Any, path: str, message: str,
                                                         needle: str) -> None:
    bad = report(serial="ECHO-1", hostname="echo")
    mutate(bad)
    response = api.post(REPORTS, json.dumps(bad), content_type="application/json")  # json: big integers too
    assert response.status_code == 400
    errors = _small(response)
    assert errors.get(path) == [message], errors
    assert needle.encode() not in response.content
    assert Host.objects.count() == 0


def test_a_flood_of_errors_lists_only_the_first_paths(api: APIClient) -> None:
    bad = report(serial="FLOOD-1", hostname="flood")
    bad["software"] = [{"name": f"pkg-{i}", "version": i, "bogus": True} for i in range(20_000)]
    response = api.post(REPORTS, orjson.dumps(bad), content_type="application/json")
    assert response.status_code == 400
    errors = _small(response, 16384)
    assert len(errors) == schema.MAX_ERRORS + 1
    assert errors["$"] == [f"More errors not listed (only the first {schema.MAX_ERRORS} paths are)."]
    assert errors["$.software[0].version"] == ["0 is not of type 'string'"]


def test_nesting_beyond_what_the_serializer_writes_is_refused_first() -> None:
    deep: dict[str, Any] = {}
    cur = deep
    for _ in range(1000):
        cur["a"] = {}
        cur = cur["a"]
    bad = report(serial="DEEP-1")
    bad["attributes"]["extra"] = deep
    with pytest.raises(schema.ReportInvalid) as caught:
        schema.validate(bad)
    assert caught.value.errors == {"$": [f"Nested deeper than {schema.MAX_DEPTH} levels."]}


def test_the_report_size_limits_come_from_the_settings(api: APIClient, settings: Any) -> None:
    settings.CMDB_DISCOVERY = {"MAX_REPORT_BYTES": 60_000, "MAX_FACTS_BYTES": 5_000}
    packages = report(serial="SIZE-1", hostname="packages", software=[(f"pkg-{i:04d}", "1.0") for i in range(800)])
    assert 5_000 < len(orjson.dumps(packages)) < 60_000
    assert api.post(REPORTS, packages, format="json").status_code == 201  # software is not kept on the host
    facts = report(serial="SIZE-2", hostname="facts", disks=[{"name": f"sd{i}", "size_gb": 1.0} for i in range(200)])
    response = api.post(REPORTS, facts, format="json")
    assert response.status_code == 400
    assert _small(response) == {"$": ["The report without `software` (what is kept on the host) is larger than the "
                                      "limit of 5,000 bytes as JSON."]}
    total = report(serial="SIZE-3", hostname="total", software=[(f"pkg-{i:05d}", "1.0") for i in range(2000)])
    response = api.post(REPORTS, total, format="json")
    assert response.status_code == 400
    assert _small(response) == {"$": ["The report is larger than the limit of 60,000 bytes as JSON."]}


def test_a_host_row_stays_small_whatever_the_report(api: APIClient) -> None:
    """The most a valid report can leave on the host row is MAX_FACTS_BYTES: the hosts list stays small."""
    most = schema.conf.get("MAX_FACTS_BYTES")
    interfaces = [{"name": f"eth{i}", "addresses": [f"2001:db8:{i:x}::{j:x}/64" for j in range(8)]}
                  for i in range(4096)]
    big = report(serial="ROW-1", hostname="row")
    big["interfaces"] = interfaces
    assert api.post(REPORTS, big, format="json").status_code == 400  # over MAX_FACTS_BYTES, within maxItems
    while len(orjson.dumps(big)) > most - 1000:
        interfaces.pop()
    assert api.post(REPORTS, big, format="json").status_code == 201
    listing = api.get("/api/discovery/hosts/?limit=100")
    assert listing.status_code == 200 and listing.json()["count"] == 1
    assert len(listing.content) < most + 8192


def test_the_new_limits_still_take_what_the_agents_send(api: APIClient) -> None:
    """A large real-world host: 6,000 packages, 60 interfaces with addresses, 300 listening services."""
    big = report(serial="REAL-1", hostname="buildhost", software=[(f"lib{i}-dev", f"1.{i}.0-1") for i in range(6000)],
                 services=[{"protocol": "tcp", "port": 1024 + i, "address": "10.0.0.1"} for i in range(300)],
                 extra={"hypervisor": "QEMU", "domain_id": 7, "libvirt_uri": "qemu:///system"})
    big["interfaces"] = [{"name": f"eth{i}", "mac_address": f"02:00:00:00:00:{i:02x}", "mtu": 1500,
                          "addresses": [f"10.{i}.0.1/24", f"fe80::{i:x}/64"]} for i in range(60)]
    assert schema.validate(copy.deepcopy(big)) == big
    assert api.post(REPORTS, big, format="json").status_code == 201


# --- Alertmanager: one notification in bulk -------------------------------------------------------------


def _alert(fp: str, ci_id: int | None, status: str = "firing", summary: str = "down") -> dict[str, Any]:
    labels = {"alertname": "NodeDown", "severity": "critical", "instance": f"{fp}:9100"}
    if ci_id is not None:
        labels["ci_id"] = str(ci_id)
    return {"status": status, "labels": labels, "annotations": {"summary": summary, "description": f"{fp} {status}"},
            "startsAt": "2026-03-01T10:00:00Z",
            "endsAt": "2026-03-01T10:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph", "fingerprint": fp}


def _notification(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": "4", "groupKey": "{}:{}", "status": "firing", "receiver": "cmdb", "alerts": alerts}


def _scenario(prefix: str, cis: list[int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Alerts that were open before, and one notification that touches every case, fingerprints prefixed."""
    before = [_alert(f"{prefix}open-{i}", cis[i % len(cis)]) for i in range(4)]
    now = [
        _alert(f"{prefix}new-0", cis[0]),                            # opened
        _alert(f"{prefix}new-1", cis[1], summary="first"),           # opened ...
        _alert(f"{prefix}new-1", cis[1], summary="second"),          # ... then updated in the same notification
        _alert(f"{prefix}new-2", cis[2]),                            # opened ...
        _alert(f"{prefix}new-2", cis[2], status="resolved"),         # ... then resolved
        _alert(f"{prefix}new-2", cis[2], summary="again"),           # ... and opened anew
        _alert(f"{prefix}open-0", cis[0], summary="still"),          # a stored incident updated
        _alert(f"{prefix}open-1", cis[1], status="resolved"),        # a stored incident resolved
        _alert(f"{prefix}open-2", cis[2], status="resolved"),        # resolved ...
        _alert(f"{prefix}open-2", cis[2], summary="back"),           # ... and opened anew
        _alert(f"{prefix}open-3", cis[3], status="resolved"),        # resolved ...
        _alert(f"{prefix}open-3", cis[3], status="resolved"),        # ... then nothing to resolve
        _alert(f"{prefix}never", cis[0], status="resolved"),         # ignored
        _alert(f"{prefix}no-ci", None),                              # opened without a CI
        _alert(f"{prefix}gone-ci", 999_999),                         # opened, the CI unknown
    ]
    return before, now


def _state(prefix: str) -> list[tuple[Any, ...]]:
    rows = Incident.objects.filter(fingerprint__startswith=prefix).order_by("fingerprint", "id")
    return [(inc.fingerprint.removeprefix(prefix), inc.status, inc.ci_id, inc.alertname, inc.severity, inc.summary,
             inc.description.removeprefix(prefix), inc.notifications, inc.ended_at, inc.started_at,
             {k: v for k, v in inc.labels.items() if k != "instance"}, inc.impacted_services) for inc in rows]


@pytest.fixture
def monitored(db: Any) -> list[int]:
    """Four CIs; a service that stands on the first two, so their incidents name it as impacted."""
    from tests.services.graphs import G

    g = G()
    ids = [g.ci(f"node-{i}") for i in range(4)]
    g.service("mail")
    g.edge("mail", "depends_on", "node-0")
    g.edge("mail", "depends_on", "node-1")
    return ids


def test_a_notification_in_bulk_ends_as_one_alert_after_the_other(api: APIClient, monitored: list[int]) -> None:
    before, now = _scenario("b:", monitored)
    assert api.post(ALERTMANAGER, _notification(before), format="json").status_code == 200
    batch = api.post(ALERTMANAGER, _notification(now), format="json")
    assert batch.status_code == 200, batch.content

    before, now = _scenario("s:", monitored)
    for alert in before:
        assert api.post(ALERTMANAGER, _notification([alert]), format="json").status_code == 200
    single = [api.post(ALERTMANAGER, _notification([alert]), format="json").json()["results"][0] for alert in now]

    results = batch.json()["results"]
    assert [r["result"] for r in results] == [r["result"] for r in single] == [
        "opened", "opened", "updated", "opened", "resolved", "opened", "updated", "resolved", "resolved", "opened",
        "resolved", "ignored", "ignored", "opened", "opened"]
    assert [r["fingerprint"].removeprefix("b:") for r in results] == [r["fingerprint"].removeprefix("s:")
                                                                       for r in single]
    # The same incident where one after the other had the same incident, and a new one where it had a new one.
    assert [r["incident"] is None for r in results] == [r["incident"] is None for r in single]
    assert len({r["incident"] for r in results}) == len({r["incident"] for r in single})
    assert _state("b:") == _state("s:")
    impacted = {fp: services for fp, _s, _c, *_rest, services in _state("b:")}
    assert impacted["new-0"] == [{"ci_id": impacted["new-0"][0]["ci_id"], "name": "mail", "state": "down"}]
    assert impacted["new-2"] == [] and impacted["no-ci"] == [] and impacted["gone-ci"] == []


def test_a_notification_writes_one_change_record_per_incident(api: APIClient, monitored: list[int]) -> None:
    before, now = _scenario("c:", monitored)
    stored = {r["incident"] for r in api.post(ALERTMANAGER, _notification(before), format="json").json()["results"]}
    response = api.post(ALERTMANAGER, _notification(now), format="json")
    request_id = response["X-Request-ID"]
    records = ObjectChange.objects.filter(request_id=request_id, changed_object_type__model="incident")
    touched = {r["incident"] for r in response.json()["results"] if r["incident"] is not None}
    assert sorted(records.values_list("changed_object_id", flat=True)) == sorted(touched)
    assert set(records.values_list("source", flat=True)) == {"alertmanager"}
    for record in records:
        incident = Incident.objects.get(pk=record.changed_object_id)
        assert record.postchange_data["status"] == incident.status
        assert record.postchange_data["notifications"] == incident.notifications
        assert record.action == ("update" if incident.pk in stored else "create")
        if record.action == "update":
            assert record.prechange_data["status"] == "open" and record.prechange_data["notifications"] == 1
    assert records.filter(action="update").count() == 4  # the four stored incidents


def _queries(client: APIClient, alerts: list[dict[str, Any]]) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(ALERTMANAGER, _notification(alerts), format="json")
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response


def test_the_queries_do_not_grow_with_the_alerts(api: APIClient, monitored: list[int]) -> None:
    """The same queries for 20 alerts as for 400 (on SQLite for 30: its 999 parameters per statement split
    Django's INSERTs of change records into batches of some 50 rows, where PostgreSQL takes any number with
    one COPY)."""
    api.post(ALERTMANAGER, _notification([_alert("warm", monitored[0])]), format="json")  # caches, graph
    more = 400 if connection.vendor == "postgresql" else 30
    counts = {}
    for n in (20, more):
        alerts = [_alert(f"q{n}-{i}", monitored[i % 4]) for i in range(n)]
        opened, r = _queries(api, alerts)
        assert {x["result"] for x in r.json()["results"]} == {"opened"}
        updated, r = _queries(api, alerts)
        assert {x["result"] for x in r.json()["results"]} == {"updated"}
        resolved, r = _queries(api, [{**a, "status": "resolved"} for a in alerts])
        assert {x["result"] for x in r.json()["results"]} == {"resolved"}
        counts[n] = (opened, updated, resolved)
    assert counts[20] == counts[more], counts


def test_a_tenant_limited_sender_cannot_resolve_another_tenants_incident(world: Any) -> None:
    """The bulk path keeps the scope check: one incident out of scope refuses the whole notification."""
    ci_a, ci_b = world.srv_a.ci_id, world.srv_b.ci_id
    assert world.b_api.post(ALERTMANAGER, _notification([_alert("t:b", ci_b)]), format="json").status_code == 200
    response = world.a_api.post(ALERTMANAGER, _notification([_alert("t:a", ci_a), _alert("t:b", ci_b, "resolved")]),
                                format="json")
    assert response.status_code == 403
    assert list(Incident.objects.values_list("fingerprint", "status")) == [("t:b", "open")]


# --- the installations list -------------------------------------------------------------------------------


def _installations(n: int) -> None:
    from cmdb.core.models.registry import ConfigurationItem
    from cmdb.software.models import SoftwareInstallation, SoftwareProduct, SoftwareVersion

    products = [SoftwareProduct.objects.get_or_create(vendor="Debian" if i else "", name=f"tool{i}",
                                                      slug=f"tool{i}")[0] for i in range(3)]
    versions = [SoftwareVersion.objects.get_or_create(product=p, version=f"{v}.0")[0] for p in products
                for v in range(2)]
    start = SoftwareInstallation.objects.count()
    for i in range(start, start + n):
        ci = ConfigurationItem.objects.create(kind="dcim.device", name=f"host-{i:03d}")
        seen = dt.datetime(2026, 3, 1, 10, i % 60, tzinfo=dt.UTC)
        SoftwareInstallation.objects.create(ci=ci, version=versions[i % len(versions)], source="agent",
                                            first_seen=seen, last_seen=seen)


def test_the_installations_list_takes_the_same_queries_for_more_rows(api: APIClient) -> None:
    _installations(10)
    api.get("/api/software/installations/?limit=0")
    with CaptureQueriesContext(connection) as small:
        assert api.get("/api/software/installations/?limit=0").json()["count"] == 10
    _installations(40)
    with CaptureQueriesContext(connection) as large:
        assert api.get("/api/software/installations/?limit=0").json()["count"] == 50
    assert len(small.captured_queries) == len(large.captured_queries)


def test_the_fast_installations_list_is_what_the_serializer_gives(api: APIClient) -> None:
    from rest_framework.test import APIRequestFactory

    from cmdb.software.api.serializers import SoftwareInstallationSerializer
    from cmdb.software.models import SoftwareInstallation

    _installations(6)
    rows = api.get("/api/software/installations/?limit=0").json()["results"]
    request = APIRequestFactory().get("/api/software/installations/")
    objs = {o.pk: o for o in SoftwareInstallation.objects.all()}
    assert len(rows) == 6
    for row in rows:
        drf = SoftwareInstallationSerializer(objs[row["id"]], context={"request": request}).data
        assert row["display"] == str(objs[row["id"]]) == drf["display"]
        assert (row["url"], row["source"]) == (drf["url"], drf["source"])
        for nested in ("ci", "product", "version"):
            assert (row[nested]["id"], row[nested]["url"]) == (drf[nested]["id"], drf[nested]["url"])
        for stamp in ("first_seen", "last_seen", "created", "last_updated"):
            assert dt.datetime.fromisoformat(row[stamp]) == dt.datetime.fromisoformat(drf[stamp])
    assert {r["display"] for r in rows} >= {"tool0 0.0 on host-000", "Debian tool1 0.0 on host-002"}
    brief = api.get("/api/software/installations/?brief=1").json()["results"]
    assert [set(b) for b in brief] == [{"id", "url", "display", "ci", "version"}] * 6


# --- the benchmark --------------------------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="benchmarks/limits.py measures PostgreSQL")
def test_the_benchmark_runs_and_shows_the_limits(tmp_path: Any) -> None:
    """``python -m benchmarks.limits`` (documented in docs/security.md), small: every request as it should end."""
    import hashlib
    import subprocess
    import sys
    from pathlib import Path

    from django.conf import settings

    db = settings.DATABASES["default"]
    tag = hashlib.sha1(str(tmp_path).encode(), usedforsecurity=False).hexdigest()[:8]
    saved, before = tmp_path / "figures.json", tmp_path / "before.json"
    before.write_text(json.dumps({"commit": "an older commit", "figures": [
        {"key": "over_max_items", "label": "", "status": 400, "seconds": 5.19, "server_cpu": 3.08, "postgres_cpu": 0.0,
         "response_bytes": 3958921, "request_bytes": 3300000, "note": ""}]}))
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.limits", "--installations", "300", "--alerts", "40",
         "--pg-host", db["HOST"] or "127.0.0.1", "--pg-port", str(db["PORT"] or 5432), "--pg-user", db["USER"],
         "--db-name", f"test_bench_limits_{tag}", "--save", str(saved), "--before", str(before),
         "--output", str(tmp_path / "limits.md")],
        cwd=root, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    figures = {f["key"]: f for f in json.loads(saved.read_text())["figures"]}
    assert figures["over_max_items"]["status"] == 400 and figures["over_max_items"]["response_bytes"] < 1000
    assert figures["fifty_mb"]["status"] == 413
    assert figures["hosts_100"]["status"] == 200 and figures["hosts_100"]["response_bytes"] < 1000
    assert [figures[k]["note"] for k in ("alerts_open", "alerts_update", "alerts_resolve")] == [
        "40 opened", "40 updated", "40 resolved"]
    assert figures["installations"]["status"] == figures["installations_all"]["status"] == 200
    table = (tmp_path / "limits.md").read_text()
    assert "| request | before: HTTP |" in table and "Before: an older commit." in table
    assert "| 400 | 5.19 | 3.08 | 0.00 | 3.8 MiB | 400 |" in table
    again = subprocess.run([sys.executable, "-m", "benchmarks.limits", "--render", str(saved), "--before", str(before),
                            "--output", str(tmp_path / "again.md")], cwd=root, capture_output=True, text=True,
                           timeout=120, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (tmp_path / "again.md").read_text() == table
