"""Web pages: reconcile runs (list, one run with its diff), a run trigger, a stored plan with its
"apply this plan" button, and the drift panel for CI pages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cmdb.users.permissions import has_action, restrict

from .api.serializers import describe_reconcilers
from .base import reconcilers
from .models import Plan, ReconcileRun
from .scope import SCOPE_HELP
from .selectors import drift_for_ci, plan_items, plan_superseded, run_plan
from .services import RunRefused, apply_request, run_request


@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    if not has_action(request.user, ReconcileRun, "view"):
        raise PermissionDenied
    runs = restrict(ReconcileRun.objects.select_related("user", "job"), request.user)[:100]
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


def _may_apply(user: object) -> bool:
    """As for ``POST /api/reconcile/plans/{id}/apply/``: add and change on reconcile runs."""
    return has_action(user, ReconcileRun, "add") and has_action(user, ReconcileRun, "change")


@login_required
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A stored plan: its items and diffs, the runs that made or applied it, and "apply this plan"."""
    plan = restrict(Plan.objects.select_related("created_by"), request.user).filter(pk=pk).first()
    if plan is None:
        raise Http404
    runs = list(restrict(plan.runs.select_related("job", "user"), request.user).order_by("-created", "-id")[:20])
    return render(request, "reconcile/plan_detail.html", {
        "plan": plan, "items": list(plan_items(plan, user=request.user)), "runs": runs,
        "superseded_by": plan_superseded(plan), "can_apply": _may_apply(request.user),
        "last_apply": next((r for r in runs if r.applies_plan), None),
    })


@login_required
def plan_apply(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue applying exactly this stored plan (CSRF-protected POST; add and change on runs; the form's
    confirmation box ticked).  A plan already known to be stale — a newer plan of the same reconciler,
    scope and options differs from it — is refused here; any other staleness is found when the run
    plans afresh, and the run (shown on this page and the run's) fails with the difference."""
    plan = restrict(Plan.objects.all(), request.user).filter(pk=pk).first()
    if plan is None:  # before the method: another tenant's plan is a 404 whatever the method
        raise Http404
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not _may_apply(request.user):
        raise PermissionDenied
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the confirmation box to apply this plan.")
        return redirect("reconcile:plan_detail", pk=plan.pk)
    newer = plan_superseded(plan)
    if newer is not None:
        messages.error(request, f"Plan {plan.pk} is stale: plan {newer.pk}, made since for the same scope, differs "
                                f"from it (the real system or the CMDB changed). Re-plan, then apply the new plan.")
        return redirect("reconcile:plan_detail", pk=plan.pk)
    try:
        run = apply_request(plan, user=request.user)
    except RunRefused as exc:
        for key, message in sorted(exc.errors.items()):
            messages.error(request, f"{key}: {message}")
        return redirect("reconcile:plan_detail", pk=plan.pk)
    messages.success(request, f"Queued applying plan {plan.pk}; run {run.pk} refuses it if it has become stale.")
    return redirect("reconcile:run_detail", pk=run.pk)


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
