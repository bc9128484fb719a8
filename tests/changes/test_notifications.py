"""Notifications on submit, approval, start and end: e-mail delivered to a real SMTP server started by the test
(aiosmtpd) through Django's SMTP backend, and webhooks to a live local HTTP server, signed when a key is set."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from cmdb.changes.approvals import decide
from cmdb.changes.models import ApprovalGroup, ChangeState
from cmdb.changes.plans import apply_change
from cmdb.changes.transitions import transition
from tests import factories as f

from .helpers import make_change

aiosmtpd = pytest.importorskip("aiosmtpd.controller")
S = ChangeState
pytestmark = pytest.mark.django_db(transaction=True)  # notifications go out when the transaction commits


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp(settings: Any) -> Any:
    box = _Mailbox()
    with socket.socket() as probe:  # a free port (the controller connects to its port to see it is up)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = aiosmtpd.Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.CHANGES_MAIL_FROM = "cmdb@example.org"
    yield box
    controller.stop()


@pytest.fixture
def hook(settings: Any) -> Any:
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.CHANGES_WEBHOOK_URLS = [f"http://127.0.0.1:{server.server_address[1]}/hook"]
    yield received
    server.shutdown()
    server.server_close()


def test_mail_and_webhooks_on_submit_approve_start_and_end(smtp: Any, hook: Any, settings: Any, make_user: Any,
                                                          monkeypatch: Any) -> None:
    monkeypatch.setenv("CMDB_WEBHOOK_KEY", "s3cret")
    settings.CHANGES_WEBHOOK_SECRET = "env:CMDB_WEBHOOK_KEY"
    rita = make_user("rita", email="rita@example.org")
    ann = make_user("ann", email="ann@example.org")
    root = make_user("root", superuser=True, email="root@example.org")
    cab = ApprovalGroup.objects.create(name="CAB", quorum=1)
    cab.members.set([ann])
    change = make_change(f.device("web01"), requester=rita, implementer=root, title="Reboot web01")

    transition(change, S.SUBMITTED, user=rita, reason="kernel update")
    decide(change, ann, "approve", "go ahead")
    change.refresh_from_db()
    done = apply_change(change, user=root)  # no plans: started by hand
    transition(done, S.COMPLETED, user=root, reason="rebooted fine")

    events = [json.loads(body)["event"] for _headers, body in hook]
    assert events == ["submitted", "approved", "started", "ended"]
    first_headers, first_body = hook[0]
    payload = json.loads(first_body)
    assert payload["change"]["id"] == change.pk and payload["change"]["state"] == "submitted"
    expected = "sha256=" + hmac.new(b"s3cret", first_body, hashlib.sha256).hexdigest()
    assert first_headers["x-cmdb-signature"] == expected

    subjects = [m["Subject"] for _to, m in smtp.messages]
    assert subjects == [f"[CMDB change {change.pk}] {e}: Reboot web01" for e in events]
    to_submit, submitted = smtp.messages[0]
    assert set(to_submit) == {"rita@example.org", "root@example.org", "ann@example.org"}  # approvers on submit
    assert "Why: kernel update" in submitted.get_payload()
    assert set(smtp.messages[1][0]) == {"rita@example.org", "root@example.org"}
    assert "Why: rebooted fine" in smtp.messages[3][1].get_payload()


def test_a_receiver_that_is_down_does_not_fail_the_change(settings: Any, make_user: Any) -> None:
    from cmdb.changes.notifications import notify

    settings.CHANGES_WEBHOOK_URLS = ["http://127.0.0.1:9/nothing-listens", "ftp://example.org/x"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9
    rita = make_user("rita", email="rita@example.org")
    change = make_change(f.device("web01"), requester=rita)
    transition(change, S.SUBMITTED, user=rita)  # notifications fail, the transition stands
    change.refresh_from_db()
    assert change.state == S.SUBMITTED
    result = notify(change.pk, "submitted")
    assert result["mailed"] == [] and result["webhooks"] == []
    assert [e.split(":")[0] for e in result["errors"]] == ["mail", "webhook http", "webhook ftp"]
