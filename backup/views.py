"""The coverage page: which CIs a policy protects, which should be and are not, whose newest backup is
older than its RPO and whose restore test is missing or too old -- over the CIs the user may see."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from cmdb.core.models import ConfigurationItem
from cmdb.users.permissions import has_action, restrict

from . import coverage as cov
from .models import Policy

PAGE_SIZE = 200
PROBLEMS = {"no_policy": "no policy, backup required", "rpo_breached": "newest backup older than the RPO",
            "no_restore_test": "no passed restore test in time"}


def _age(now: dt.datetime, then: dt.datetime | None) -> str:
    """``3 d 4 h`` -- how long ago, coarse enough to read at a glance."""
    if then is None:
        return "never"
    seconds = max(0, int((now - then).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days} d {hours} h" if days else f"{hours} h {rest // 60} min"


@login_required
def coverage_page(request: HttpRequest) -> HttpResponse:
    """One coverage computation (a constant number of queries), counted and paged in memory."""
    if not has_action(request.user, Policy, "view"):  # the same gate as /api/backup/coverage/
        raise PermissionDenied
    problem = request.GET.get("problem") or ""
    if problem not in PROBLEMS:
        problem = ""
    now = timezone.now()
    report = cov.report(restrict(ConfigurationItem.objects.all(), request.user, "view"), now=now)
    rows = [r for r in report.rows if r.problem == problem] if problem else report.rows
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    shown = [{"row": r, "backup_age": _age(now, r.last_backup), "test_age": _age(now, r.last_restore_test)}
             for r in page.object_list]
    return render(request, "backup/coverage.html", {
        "counts": report.counts, "problems": PROBLEMS, "problem": problem, "page": page, "shown": shown,
        "paginator": page.paginator, "query": urlencode({"problem": problem} if problem else {}),
        "csv": "/api/backup/coverage/?" + urlencode({"export": "csv", **({"problem": problem} if problem else {})}),
    })
