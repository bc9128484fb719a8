"""Web pages: jobs (list, one job with its log) and schedules (list, create, edit)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from cmdb.core.context import change_logging
from cmdb.users.permissions import has_action, restrict

from .forms import ScheduleForm
from .models import Job, Schedule


@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    if not has_action(request.user, Job, "view"):
        raise PermissionDenied
    jobs = restrict(Job.objects.select_related("user", "schedule"), request.user)[:200]
    return render(request, "jobs/job_list.html", {"jobs": jobs})


@login_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = restrict(Job.objects.select_related("user", "schedule"), request.user).filter(pk=pk).first()
    if job is None:
        raise Http404
    return render(request, "jobs/job_detail.html", {"job": job})


@login_required
def schedule_list(request: HttpRequest) -> HttpResponse:
    if not has_action(request.user, Schedule, "view"):
        raise PermissionDenied
    return render(request, "jobs/schedule_list.html", {
        "schedules": restrict(Schedule.objects.all(), request.user),
        "can_add": has_action(request.user, Schedule, "add"),
        "can_change": has_action(request.user, Schedule, "change"),
    })


@login_required
def schedule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create or edit a schedule; saved with full validation inside an attributed change-log context."""
    instance = None
    if pk is not None:
        instance = restrict(Schedule.objects.all(), request.user, "change").filter(pk=pk).first()
        if instance is None:
            raise Http404
    elif not has_action(request.user, Schedule, "add"):
        raise PermissionDenied
    form = ScheduleForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        with change_logging(user=request.user, source="ui", request_id=getattr(request, "id", None)):
            schedule = form.save(commit=False)
            schedule.validated_save()
        messages.success(request, f"Schedule “{schedule.name}” saved.")
        return redirect("jobs:schedule_list")
    return render(request, "jobs/schedule_form.html", {"form": form, "schedule": instance})
