"""Issue 14, finding 10: the site's own controls on the analysis pages, badges coloured by outcome, one date format."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.template import Context, Template
from django.utils import timezone

from cmdb.ui.format import badge_class, format_when

ROOT = Path(__file__).resolve().parent.parent.parent
#: Templates exempt from the one-format rule (none: every page uses the shared filters).
NOT_YET: tuple[str, ...] = ()

PAGES = ["/services/impact/?ci=web01", "/software/compliance/", "/software/which/?product=openssl&below=3.0.13",
         "/software/installed-on/?host=web01", "/software/end-of-support/?within=90"]


@pytest.fixture
def services_world(world: Any) -> Any:
    from tests.services.world import add_software_and_services

    add_software_and_services(world)
    return world


@pytest.mark.parametrize("url", PAGES)
def test_analysis_pages_use_the_sites_controls(services_world: Any, admin_client: Any, url: str) -> None:
    html = admin_client.get(url).content.decode()
    form = re.search(r"<form method=\"get\" class=\"[^\"]*query-form[^\"]*\".*?</form>", html, re.S)
    assert form, f"{url}: no query form"
    body = form.group(0)
    buttons = re.findall(r"<button[^>]*>", body)
    assert buttons and all('class="btn primary"' in b for b in buttons), buttons
    fields = re.findall(r"<(?:input|select)\b[^>]*>", body)
    assert fields and all('class="input"' in f for f in fields), fields
    links = re.findall(r"<a\b[^>]*>", body)
    assert all('class="btn"' in a for a in links), links


def test_impact_states_are_badges(services_world: Any, admin_client: Any) -> None:
    html = admin_client.get("/services/impact/?ci=web01").content.decode()
    assert '<span class="badge badge-danger down">down</span>' in html


def test_a_failed_badge_differs_from_a_completed_one(admin_client: Any) -> None:
    from cmdb.jobs.models import Job

    now = timezone.now()
    Job.objects.create(name="jobs.echo", status="failed", finished=now)
    Job.objects.create(name="jobs.echo", status="completed", finished=now)
    Job.objects.create(name="jobs.echo", status="running")
    Job.objects.create(name="jobs.echo", status="pending")
    html = admin_client.get("/jobs/").content.decode()
    failed = re.search(r'<span class="([^"]*)">Failed</span>', html).group(1)
    completed = re.search(r'<span class="([^"]*)">Completed</span>', html).group(1)
    running = re.search(r'<span class="([^"]*)">Running</span>', html).group(1)
    pending = re.search(r'<span class="([^"]*)">Pending</span>', html).group(1)
    assert "badge-danger" in failed and "badge-ok" in completed and "badge-info" in running
    assert "badge-muted" in pending and len({failed, completed, running, pending}) == 4
    css = (ROOT / "cmdb/ui/static/ui/ui.css").read_text()
    for tone in ("danger", "ok", "info", "warn", "muted"):
        assert f".badge.badge-{tone}" in css


def test_badge_classes() -> None:
    assert badge_class("failed") == "badge badge-danger failed"
    assert badge_class("Completed") == "badge badge-ok completed"
    assert badge_class("running") == "badge badge-info running"
    assert badge_class("pending") == "badge badge-muted pending"
    assert badge_class("something else") == "badge something-else"


def test_one_date_format(settings: Any) -> None:
    settings.TIME_ZONE = "Europe/Berlin"
    when = dt.datetime(2026, 12, 6, 22, 1, 17, tzinfo=dt.UTC)
    assert format_when(when) == "2026-12-06 23:01"  # in the server's time zone, minutes
    assert format_when(dt.date(2026, 12, 6)) == "2026-12-06"
    assert format_when(None) == "—"
    assert format_when("2026-12-06T22:01:17+00:00") == "2026-12-06 23:01"  # ISO text from JSON answers
    assert format_when("2026-12-06") == "2026-12-06" and format_when("n/a") == "n/a"
    rendered = Template("{% load ui_format %}{{ t|when }} {{ d|when }} {{ s|badge }}").render(
        Context({"t": when, "d": dt.date(2026, 1, 2), "s": "failed"}))
    assert rendered == "2026-12-06 23:01 2026-01-02 badge badge-danger failed"


def test_no_template_picks_its_own_date_format() -> None:
    """``|date:"…"`` and bare datetimes were the three formats side by side; ``|when`` is the one."""
    offenders = []
    for path in ROOT.glob("**/templates/**/*.html"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith((".venv", *NOT_YET)):
            continue
        text = path.read_text()
        offenders += [f"{rel}: {m}" for m in re.findall(r"\|date:\"[^\"]*\"", text)]
        offenders += [f"{rel}: {m}" for m in re.findall(
            r"\{\{ [\w.]*(?:last_seen|first_seen|created|finished|started|_at)\|default(?:_if_none)?:[^}]*\}\}", text)]
    assert not offenders, "\n".join(offenders)
