"""Web pages: reconcile runs (list, one run with its diff), a run trigger, and the drift panel for CI pages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cmdb.users.permissions import has_action, restrict

from .api.serializers import describe_reconcilers
from .base import reconcilers
from .models import ReconcileRun
from .scope import SCOPE_HELP
from .selectors import drift_for_ci, run_plan
from .services import RunRefused, run_request


@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    if not has_action(request.user, ReconcileRun, "view"):
        raise PermissionDenied
    runs = restrict(ReconcileRun.objects.select_related("user"), request.user)[:100]
    return render(request, "reconcile/run_list.html", {
        "runs": runs, "reconcilers": sorted(reconcilers()), "described": describe_reconcilers(),
        "scope_help": SCOPE_HELP,
        "can_run": has_action(request.user, ReconcileRun, "add"),
        "can_apply": has_action(request.user, ReconcileRun, "change"),
    })


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = restrict(ReconcileRun.objects.select_related("user", "job", "schedule"), request.user).filter(pk=pk).first()
    if run is None:
        raise Http404
    actions = list(run_plan(run, user=request.user))
    targets = sorted(run.summary.items()) if isinstance(run.summary, dict) else []
    return render(request, "reconcile/run_detail.html", {"run": run, "actions": actions, "targets": targets})


@login_required
@require_POST
def run_start(request: HttpRequest) -> HttpResponse:
    reconciler = request.POST.get("reconciler", "")
    scope = request.POST.get("scope", "").strip() or "all"
    dry_run = request.POST.get("mode", "dry_run") != "apply"
    needed = "add" if dry_run else "change"
    if not has_action(request.user, ReconcileRun, "add") or not has_action(request.user, ReconcileRun, needed):
        raise PermissionDenied
    if reconciler not in reconcilers():
        messages.error(request, f"Unknown reconciler {reconciler!r}.")
        return redirect("reconcile:run_list")
    try:
        run = run_request(reconciler=reconciler, scope=scope[:200], dry_run=dry_run, user=request.user,
                          options=_form_options(request, reconciler))
    except RunRefused as exc:
        for key, message in sorted(exc.errors.items()):
            messages.error(request, f"{key}: {message}")
        return redirect("reconcile:run_list")
    messages.success(request, f"Queued {'a dry run' if dry_run else 'an apply'} of {reconciler} for {scope}.")
    return redirect("reconcile:run_detail", pk=run.pk)


def _form_options(request: HttpRequest, reconciler: str) -> dict[str, object]:
    """The run form's option fields of ``reconciler`` (empty: the declared default), typed as declared."""
    out: dict[str, object] = {}
    for option in reconcilers()[reconciler].options:
        raw = request.POST.get(f"option-{reconciler}-{option.name}", "").strip()
        if raw == "":
            continue
        if option.type is bool:
            out[option.name] = raw.lower() in ("true", "on", "1", "yes")
        elif option.type is int:
            out[option.name] = int(raw) if raw.lstrip("-").isdigit() else raw
        else:
            out[option.name] = raw
    return out


def ci_drift_panel(request: HttpRequest, ci_id: int) -> str:
    """HTML of the drift panel for a CI detail page (for the UI's extra-panel hook)."""
    from django.template.loader import render_to_string

    return render_to_string("reconcile/inc/ci_drift.html", {"drift": drift_for_ci(ci_id, user=request.user)},
                            request=request)
