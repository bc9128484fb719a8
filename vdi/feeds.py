"""Fetching a timetable's ICS feed (``TimetableSource.feed_url``): bounded, http(s) only, private networks refused.

A feed URL is typed by whoever may change a pool, and the server fetches it, so the fetch is the first
place an attacker would aim the CMDB at something it can reach and they cannot (a cloud metadata address,
an admin port on localhost).  Therefore:

* only ``http`` and ``https`` (and redirects only to those; at most :data:`MAX_REDIRECTS`), TLS verified;
* the host's addresses must all be public unless the setting ``VDI_FEED_ALLOW_PRIVATE`` is true (a campus
  whose lecture planning system sits on a private network sets it; the tests set it to reach their local
  server).  The check is on the addresses the name resolves to just before connecting;
* a timeout per connect/read (:data:`TIMEOUT` seconds) and a deadline for the whole download;
* at most :data:`MAX_BYTES` of body (announced by Content-Length or counted while reading);
* the body decoded as the charset the server names (UTF-8 by default) and parsed before it is accepted.

Every refusal is a :class:`FeedError` whose message names the URL's host and the reason, never the body.
"""

from __future__ import annotations

import ipaddress
import socket
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

TIMEOUT = 10.0
DEADLINE = 30.0
MAX_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = 3
SCHEMES = ("http", "https")


class FeedError(ValueError):
    """The feed could not be fetched or is not acceptable; the message says why."""


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise FeedError(f"only http and https feeds are fetched, not {parts.scheme or 'a URL without scheme'!r}")
    if not parts.hostname:
        raise FeedError("the feed URL has no host")
    if getattr(settings, "VDI_FEED_ALLOW_PRIVATE", False):
        return
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FeedError(f"{parts.hostname}: the name does not resolve ({exc.strerror})") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not address.is_global:
            raise FeedError(f"{parts.hostname} resolves to the non-public address {address}; "
                            "set VDI_FEED_ALLOW_PRIVATE to fetch feeds from private networks")


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows at most MAX_REDIRECTS redirects, each to an http(s) URL that passes the address check."""

    max_redirections = MAX_REDIRECTS

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        _check_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    # Built by hand rather than with build_opener(): no file:, ftp: or data: handlers, no environment proxies
    # (a proxy would fetch private addresses on our behalf).
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.HTTPHandler(), urllib.request.HTTPSHandler(), _Redirects(),
                    urllib.request.HTTPDefaultErrorHandler(), urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


def fetch(url: str, *, timeout: float = TIMEOUT, deadline: float = DEADLINE, max_bytes: int = MAX_BYTES) -> str:
    """The text of the feed at ``url``; raises :class:`FeedError` (see the module docstring for the limits)."""
    _check_url(url)
    host = urlsplit(url).hostname
    request = urllib.request.Request(url, headers={  # noqa: S310 - the scheme is checked above, the opener has no file:"Accept": "text/calendar, text/plain;q=0.5",
                                                   "User-Agent": "cmdb-vdi-timetable/1"})
    started = time.monotonic()
    try:
        with _opener().open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise FeedError(f"{host}: the feed is {int(length)} bytes, more than the limit of {max_bytes}")
            chunks, size = [], 0
            while True:
                if time.monotonic() - started > deadline:
                    raise FeedError(f"{host}: the download took longer than {deadline:g} s")
                chunk = response.read1(64 * 1024)  # what has arrived: a trickle cannot outlast the deadline
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise FeedError(f"{host}: the feed is larger than the limit of {max_bytes} bytes")
                chunks.append(chunk)
            charset = response.headers.get_content_charset() or "utf-8"
    except urllib.error.HTTPError as exc:
        raise FeedError(f"{host}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise FeedError(f"{host}: {exc.reason}") from None
    except TimeoutError:
        raise FeedError(f"{host}: no answer within {timeout:g} s") from None
    except OSError as exc:
        raise FeedError(f"{host}: {exc}") from None
    try:
        return b"".join(chunks).decode(charset)
    except (LookupError, UnicodeDecodeError) as exc:
        raise FeedError(f"{host}: the feed is not {charset} text ({exc.__class__.__name__})") from None


def refresh(source: Any, *, user: Any = None, via: str = "job") -> bool:
    """Fetch ``source``'s feed, and if it parses and differs from the stored content, save it (its lectures
    are parsed again), change-logged as ``via`` by ``user``.  True if it changed; raises :class:`FeedError`,
    ``ICSError`` or ``ValidationError``, leaving it as it was.  The download happens before any transaction
    is opened: a slow feed holds no database connection in a transaction."""
    from cmdb.core.context import change_logging

    from .ics import parse_ics

    text = fetch(source.feed_url)
    parse_ics(text)
    if text == source.content:
        return False
    with change_logging(user=user, source=via):
        source.content = text
        source.validated_save()
    return True


def refresh_all(*, log: Any = None) -> dict[str, Any]:
    """Refresh every timetable with a feed URL; one feed's failure is reported, never stops the others."""
    from django.core.exceptions import ValidationError

    from .ics import ICSError
    from .models import TimetableSource

    summary: dict[str, Any] = {"changed": [], "unchanged": 0, "failed": {}}
    for source in TimetableSource.objects.exclude(feed_url="").select_related("pool").order_by("pk"):
        label = f"{source.pool.name}/{source.name}"
        try:
            if refresh(source):
                summary["changed"].append(label)
            else:
                summary["unchanged"] += 1
        except (FeedError, ICSError, ValidationError) as exc:
            summary["failed"][label] = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            if log:
                log(f"timetable {label}: {exc}", level="warning")
    return summary
