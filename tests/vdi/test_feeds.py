"""Timetable feeds fetched from a live local HTTP server: limits, schemes, private addresses, refresh."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from vdi import feeds
from vdi.models import TimetableSource

from .conftest import make_pool
from .test_schedule import ICS

pytestmark = pytest.mark.django_db


class Feed(http.server.BaseHTTPRequestHandler):
    """Serves ``routes[path]``: (status, headers, body) or a callable doing its own thing."""

    routes: dict[str, Any] = {}

    def do_GET(self) -> None:
        route = self.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        if callable(route):
            route(self)
            return
        status, headers, body = route
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server(settings: Any) -> Iterator[str]:
    settings.VDI_FEED_ALLOW_PRIVATE = True  # the test server is on 127.0.0.1
    Feed.routes = {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_timetable_with_a_feed_url_and_no_content_is_fetched_and_refreshed(vdi_world, server):
    Feed.routes["/plan.ics"] = (200, {"Content-Type": "text/calendar; charset=utf-8"}, ICS.encode())
    pool = make_pool(vdi_world, max_size=30)
    source = TimetableSource(pool=pool, name="Z7", feed_url=f"{server}/plan.ics", room_filter="Z-7.01", size=24)
    source.validated_save()
    assert source.content == ICS and source.lectures.count() == 2
    assert feeds.refresh_all() == {"changed": [], "unchanged": 1, "failed": {}}
    # The plan changes: the exam moves into another room; the next refresh follows it.
    Feed.routes["/plan.ics"] = (200, {"Content-Type": "text/calendar"}, ICS.replace("LOCATION:Z-7.01\r",
                                                                                     "LOCATION:Z-2.01\r").encode())
    assert feeds.refresh_all()["changed"] == [f"{pool.name}/Z7"]
    source.refresh_from_db()
    assert source.lectures.count() == 1
    # A feed that stops parsing is reported and leaves the stored plan alone.
    Feed.routes["/plan.ics"] = (200, {}, b"<html>maintenance</html>")
    summary = feeds.refresh_all()
    assert "does not start with BEGIN:VCALENDAR" in summary["failed"][f"{pool.name}/Z7"]
    assert source.lectures.count() == 1


def test_the_job_refreshes_the_feeds(vdi_world, server):
    from cmdb.jobs.models import Job
    from cmdb.jobs.registry import job_enqueue, job_kwargs_errors, job_run

    Feed.routes["/plan.ics"] = (200, {}, ICS.encode())
    TimetableSource(pool=make_pool(vdi_world, max_size=30), name="Z7", feed_url=f"{server}/plan.ics",
                    size=24).validated_save()
    assert job_kwargs_errors("vdi.timetables.refresh", {"url": "x"}) == {"url": "This job takes no arguments."}
    record = job_enqueue("vdi.timetables.refresh")  # queued on commit, which a test transaction never reaches
    assert job_run(record.pk, attempt=record.attempt) == "completed"
    done = Job.objects.get(pk=record.pk)
    assert done.result == {"changed": [], "unchanged": 1, "failed": {}}
    assert done.log[-1]["message"] == "0 timetable(s) changed, 1 unchanged, 0 failed"


def test_what_cannot_be_fetched_is_refused_naming_feed_url(vdi_world, server, settings):
    pool = make_pool(vdi_world, max_size=30)

    def refused(url: str) -> str:
        with pytest.raises(ValidationError) as exc:
            TimetableSource(pool=pool, name="x", feed_url=url, size=5).validated_save()
        return exc.value.message_dict["feed_url"][0]

    assert "HTTP 404" in refused(f"{server}/missing.ics")
    Feed.routes["/page"] = (200, {"Content-Type": "text/html"}, b"<html></html>")
    assert "does not parse" in refused(f"{server}/page")
    assert "only http and https" in refused("ftp://example.org/plan.ics")
    Feed.routes["/to-file"] = (302, {"Location": "file:///etc/passwd"}, b"")
    assert "Redirection to url 'file:///etc/passwd' is not allowed" in feeds_error(f"{server}/to-file")
    Feed.routes["/plan.ics"] = (200, {}, ICS.encode())
    Feed.routes["/moved"] = (301, {"Location": "/plan.ics"}, b"")
    assert feeds.fetch(f"{server}/moved") == ICS  # an http redirect is followed
    Feed.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    assert "redirect" in feeds_error(f"{server}/loop")
    settings.VDI_FEED_ALLOW_PRIVATE = False
    assert "resolves to the non-public address 127.0.0.1" in refused(f"{server}/plan.ics")


def feeds_error(url: str, **limits: Any) -> str:
    with pytest.raises(feeds.FeedError) as exc:
        feeds.fetch(url, **limits)
    return str(exc.value)


def test_size_and_time_limits(server):
    Feed.routes["/big"] = (200, {}, b"x" * 5000)
    assert "5000 bytes, more than the limit of 4096" in feeds_error(f"{server}/big", max_bytes=4096)

    def unannounced(handler: Any) -> None:  # no Content-Length: counted while reading
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.end_headers()
        for _ in range(10):
            handler.wfile.write(b"y" * 1000)

    Feed.routes["/stream"] = unannounced
    assert "larger than the limit of 4096 bytes" in feeds_error(f"{server}/stream", max_bytes=4096)

    def silent(handler: Any) -> None:
        time.sleep(2)

    Feed.routes["/slow"] = silent
    started = time.monotonic()
    assert "no answer within 0.5 s" in feeds_error(f"{server}/slow", timeout=0.5)
    assert time.monotonic() - started < 1.9

    def trickle(handler: Any) -> None:  # a byte at a time, each within the read timeout
        handler.send_response(200)
        handler.send_header("Content-Length", "100")
        handler.end_headers()
        for _ in range(100):
            handler.wfile.write(b"z")
            handler.wfile.flush()
            time.sleep(0.1)

    Feed.routes["/trickle"] = trickle
    assert "took longer than 0.5 s" in feeds_error(f"{server}/trickle", timeout=1, deadline=0.5)


def test_the_api_refreshes_one_timetable_for_who_may_change_it(vdi_world, server):
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from cmdb.core.models import ObjectChange
    from cmdb.users.models import ObjectPermission

    Feed.routes["/plan.ics"] = (200, {}, ICS.encode())
    source = TimetableSource(pool=make_pool(vdi_world, max_size=30), name="Z7", feed_url=f"{server}/plan.ics",
                             room_filter="Z-7.01", size=24)
    source.validated_save()
    url = f"/api/vdi/timetables/{source.pk}/refresh/"
    viewer = get_user_model().objects.create_user("viewer")
    grant = ObjectPermission(name="vdi view", object_types=["vdi.timetablesource"], actions=["view"])
    grant.save()
    grant.users.add(viewer)
    api = APIClient()
    api.force_authenticate(viewer)
    assert api.post(url).status_code == 403  # viewing is not enough
    admin = get_user_model().objects.create_superuser("root")
    api.force_authenticate(admin)
    assert api.post(url).json()["changed"] is False
    Feed.routes["/plan.ics"] = (200, {}, ICS.replace("LOCATION:Z-7.01\r", "LOCATION:Z-2.01\r").encode())
    answer = api.post(url)
    assert answer.status_code == 200 and answer.json()["changed"] is True, answer.content
    assert source.lectures.count() == 1
    assert ObjectChange.objects.filter(source="api", user=admin).exists()
    Feed.routes["/plan.ics"] = (500, {}, b"")
    answer = api.post(url)
    assert answer.status_code == 400 and "HTTP 500" in answer.json()["feed_url"][0]
    assert api.post("/api/vdi/timetables/999999/refresh/").status_code == 404
