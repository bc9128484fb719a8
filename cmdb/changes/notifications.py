"""Notifications of a change's life: e-mail (Django's mail backends) and webhooks.

Sent when the transaction that made the transition commits (never for one rolled back), on the
events ``submitted``, ``approved``, ``rejected``, ``started`` and ``ended``:

* e-mail through ``EMAIL_BACKEND`` (SMTP with ``EMAIL_HOST``/``EMAIL_PORT`` in production) from
  ``CHANGES_MAIL_FROM`` (default ``DEFAULT_FROM_EMAIL``) to the requester, the implementer, the
  members of the approver groups of the change (on ``submitted``) and the contacts the assessment
  names (``assessment["contacts"]`` entries with an ``email``), plus ``CHANGES_NOTIFY_EMAILS``;
* a JSON ``POST`` to every URL of ``CHANGES_WEBHOOK_URLS`` with ``{"event", "change": {...}}``;
  when ``CHANGES_WEBHOOK_SECRET`` (a secret reference ``env:`` or ``file:``, its name containing
  ``WEBHOOK``) is set, the body's HMAC-SHA256 is sent as ``X-CMDB-Signature: sha256=<hex>``.

A receiver that is down does not fail the change: each failure is logged, and :func:`notify`
returns what was sent and what failed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction

from cmdb.core.secrets import SecretPolicy, SecretUnavailable, resolve

from .models import Change

logger = logging.getLogger(__name__)
WEBHOOK_SECRET = SecretPolicy("the change webhook's signing key", name_must_contain="WEBHOOK", file_dirs=())
TIMEOUT = 5.0


def notify_later(change_id: int, event: str) -> None:
    """Notify about ``event`` once the current transaction commits."""
    transaction.on_commit(lambda: notify(change_id, event))


def payload(change: Change, event: str) -> dict[str, Any]:
    return {
        "event": event,
        "change": {
            "id": change.pk, "title": change.title, "type": change.type, "state": change.state,
            "tenant": change.tenant_id,
            "window_start": change.window_start.isoformat() if change.window_start else None,
            "window_end": change.window_end.isoformat() if change.window_end else None,
            "timezone": change.timezone, "risk_score": change.risk_score,
            "requester": change.requester.get_username() if change.requester else None,
            "implementer": change.implementer.get_username() if change.implementer else None,
            "ci_ids": sorted(change.cis.values_list("pk", flat=True)),
        },
    }


def recipients(change: Change, event: str) -> list[str]:
    found: list[str] = []
    for user in (change.requester, change.implementer):
        if user is not None and user.email:
            found.append(user.email)
    if event == "submitted":
        from .approvals import applicable_groups

        found += [m.email for g in applicable_groups(change) for m in g.members.all() if m.email]
    for contact in (change.assessment or {}).get("contacts") or []:
        if isinstance(contact, dict) and contact.get("email"):
            found.append(str(contact["email"]))
    found += list(getattr(settings, "CHANGES_NOTIFY_EMAILS", []) or [])
    return list(dict.fromkeys(found))


def _subject(change: Change, event: str) -> str:
    return f"[CMDB change {change.pk}] {event}: {change.title}"


def _body(change: Change, event: str) -> str:
    lines = [f"Change {change.pk} ({change.type}) {event}: {change.title}", f"State: {change.state}"]
    if change.window_start and change.window_end:
        lines.append(f"Window: {change.window_start.isoformat()} to {change.window_end.isoformat()} "
                     f"({change.timezone})")
    if change.risk_score is not None:
        lines.append(f"Risk score: {change.risk_score:.1f}")
    last = change.transitions.order_by("-at", "-id").first()
    if last is not None and last.reason:
        lines.append(f"Why: {last.reason}")
    base = getattr(settings, "CMDB_BASE_URL", "").rstrip("/")
    if base:
        lines.append(f"{base}/changes/{change.pk}/")
    return "\n".join(lines) + "\n"


def _signature(body: bytes) -> str | None:
    ref = getattr(settings, "CHANGES_WEBHOOK_SECRET", "")
    if not ref:
        return None
    try:
        key = resolve(ref, WEBHOOK_SECRET)
    except (SecretUnavailable, ValueError) as exc:
        logger.warning("change webhook signing key unavailable: %s", exc)
        return None
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def notify(change_id: int, event: str) -> dict[str, Any]:
    """Send the e-mail and the webhooks of ``event`` for change ``change_id``; returns what happened."""
    change = Change.objects.select_related("requester", "implementer").filter(pk=change_id).first()
    result: dict[str, Any] = {"mailed": [], "webhooks": [], "errors": []}
    if change is None:
        return result
    to = recipients(change, event)
    if to:
        try:
            message = EmailMessage(_subject(change, event), _body(change, event),
                                   getattr(settings, "CHANGES_MAIL_FROM", None) or settings.DEFAULT_FROM_EMAIL, to,
                                   connection=get_connection(timeout=TIMEOUT))
            message.send()
            result["mailed"] = to
        except Exception as exc:  # a mail server that is down must not fail the change
            logger.warning("change %s %s: e-mail failed: %s", change.pk, event, exc)
            result["errors"].append(f"mail: {exc}")
    body = json.dumps(payload(change, event), sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "cmdb-changes"}
    signature = _signature(body)
    if signature:
        headers["X-CMDB-Signature"] = signature
    for url in getattr(settings, "CHANGES_WEBHOOK_URLS", []) or []:
        if not str(url).startswith(("http://", "https://")):
            result["errors"].append(f"webhook {url}: not an http(s) URL")
            continue
        request = urllib.request.Request(str(url), data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - http(s) only
                result["webhooks"].append({"url": url, "status": response.status})
        except (urllib.error.URLError, OSError) as exc:
            logger.warning("change %s %s: webhook %s failed: %s", change.pk, event, url, exc)
            result["errors"].append(f"webhook {url}: {exc}")
    return result
