"""Fixtures for the API contract tests."""

from __future__ import annotations

import gc
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """The superuser fixtures hash a password per test; PBKDF2 would dominate the run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def nb(nb: Any) -> Any:
    """The shared pynetbox fixture, with its HTTP session closed afterwards.

    A kept-alive connection keeps a live-server thread, and its database connection, around
    until the test database is flushed or dropped.
    """
    yield nb
    _close(nb)


@pytest.fixture
def make_nb(live_server: Any) -> Any:
    """More pynetbox clients against the live server (other tokens, threading, strict filters)."""
    import pynetbox

    made: list[Any] = []

    def make(token: str | None, **kwargs: Any) -> Any:
        api = pynetbox.api(live_server.url, token=token, **kwargs)
        made.append(api)
        return api

    yield make
    for api in made:
        _close(api)


def _close(api: Any) -> None:
    api.http_session.close()
    # Responses kept by caught RequestErrors (reference cycles through their tracebacks) pin
    # their connection pools, and so an open socket to a live-server thread; collect them now.
    gc.collect()


@pytest.fixture(scope="session", autouse=True)
def _live_server_without_nagle() -> Any:
    """Let the live server send small responses at once.

    Django's test server writes headers and body separately; with Nagle's algorithm on the
    server socket and the client's delayed ACKs every keep-alive request then stalls ~40 ms,
    which would double the time of the pynetbox tests.  (Production runs under gunicorn.)
    """
    import socket

    from django.core.servers.basehttp import ThreadedWSGIServer
    from django.test.testcases import LiveServerThread

    class NoDelayServer(ThreadedWSGIServer):
        def get_request(self) -> Any:
            sock, addr = super().get_request()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock, addr

    original = LiveServerThread.server_class
    LiveServerThread.server_class = NoDelayServer
    yield
    LiveServerThread.server_class = original
