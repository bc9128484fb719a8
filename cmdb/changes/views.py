"""Web pages of change management: the list, a change with its assessment, approvals, plans and outcomes,
and the forms that move it (transition, approve/reject, apply)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render

from cmdb.core.context import change_logging
from cmdb.core.models import ConfigurationItem
from cmdb.reconcile.models import PlanItem
from cmdb.users.permissions import has_action, restrict

from .approvals import ApprovalRefused, decide
from .approvals import status as approval_status
from .assessment import for_user
from .models import Change, ChangeCollision, ChangePlan, ChangeState, ChangeTransition, ChangeType
from .transitions import ALLOWED, DECIDED_BY_APPROVALS, TransitionRefused, transition


@login_required
def change_list(request: HttpRequest) -> HttpResponse:
    if not has_action(request.user, Change, "view"):
        raise PermissionDenied
    qs = restrict(Change.objects.select_related("requester", "tenant"), request.user)
    state = request.GET.get("state", "")
    if state in ChangeState.values:
        qs = qs.filter(state=state)
    return render(request, "changes/change_list.html", {
        "changes": qs.order_by("-window_start", "-pk")[:200], "states": ChangeState.choices, "state": state,
        "can_add": has_action(request.user, Change, "add"),
    })


def _change(request: HttpRequest, pk: int, action: str = "view") -> Change:
    change = restrict(Change.objects.select_related("requester", "implementer", "tenant", "template"),
                      request.user, action).filter(pk=pk).first()
    if change is None:
        raise Http404
    return change


@login_required
def change_detail(request: HttpRequest, pk: int) -> HttpResponse:
    change = _change(request, pk)
    user = request.user
    cis = list(restrict(ConfigurationItem.objects.filter(pk__in=change.cis.values("pk")), user).order_by("name"))
    plans = list(ChangePlan.objects.filter(change=change).select_related("plan", "run").order_by("pk"))
    items = {}
    for item in restrict(PlanItem.objects.filter(plan_id__in=[p.plan_id for p in plans]), user).order_by(
            "plan", "index"):
        items.setdefault(item.plan_id, []).append(item)
    for p in plans:
        p.items_shown = items.get(p.plan_id, [])  # type: ignore[attr-defined]
    collisions = restrict(ChangeCollision.objects.filter(change_a=change) | ChangeCollision.objects.filter(
        change_b=change), user)
    assessment = for_user(change.assessment or {}, user) if isinstance(change.assessment, dict) else {}
    risk = assessment.get("risk") if isinstance(assessment, dict) else None
    return render(request, "changes/change_detail.html", {
        "change": change, "cis": cis, "plans": plans, "approvals": approval_status(change),
        "history": ChangeTransition.objects.filter(change=change).select_related("user").order_by("at", "pk"),
        "collisions": list(collisions), "assessment": assessment, "risk": risk if isinstance(risk, dict) else None,
        "moves": [s for s in ALLOWED.get(change.state, ()) if s not in DECIDED_BY_APPROVALS
                  and not (change.state == ChangeState.IN_PROGRESS and s == ChangeState.SUBMITTED)],
        "can_change": restrict(Change.objects.filter(pk=change.pk), user, "change").exists(),
        "can_decide": change.state == ChangeState.SUBMITTED and change.requester_id != user.pk,
        "can_apply": change.state in (ChangeState.APPROVED, ChangeState.SCHEDULED) and bool(plans),
    })


@login_required
def change_new(request: HttpRequest) -> HttpResponse:
    """A draft change: title, type, window, CIs (by registry id or name), rollback plan."""
    if not has_action(request.user, Change, "add"):
        raise PermissionDenied
    if request.method == "POST":
        from django.utils.dateparse import parse_datetime

        from cmdb.users.permissions import sole_tenant

        refs = [r.strip() for r in request.POST.get("cis", "").replace(",", " ").split() if r.strip()]
        visible = restrict(ConfigurationItem.objects.all(), request.user, "change")
        ids = set(visible.filter(pk__in=[int(r) for r in refs if r.isdigit()]).values_list("pk", flat=True))
        ids |= set(visible.filter(name__in=[r for r in refs if not r.isdigit()]).values_list("pk", flat=True))
        change_type = request.POST.get("type", ChangeType.NORMAL)
        change = Change(title=request.POST.get("title", "").strip()[:200],
                        description=request.POST.get("description", ""),
                        type=change_type if change_type in ChangeType.values else ChangeType.NORMAL,
                        window_start=parse_datetime(request.POST.get("window_start", "") or "") or None,
                        window_end=parse_datetime(request.POST.get("window_end", "") or "") or None,
                        rollback_plan=request.POST.get("rollback_plan", ""),
                        emergency_reason=request.POST.get("emergency_reason", ""),
                        requester=request.user, tenant_id=sole_tenant(request.user))
        if not change.title:
            messages.error(request, "Give the change a title.")
            return redirect("changes:change_new")
        with change_logging(user=request.user, source="web"):
            change.save()
            change.cis.set(ids)
            if not restrict(Change.objects.filter(pk=change.pk), request.user, "add").exists():
                raise PermissionDenied
        messages.success(request, f"Draft change {change.pk} created with {len(ids)} CIs.")
        return redirect("changes:change_detail", pk=change.pk)
    return render(request, "changes/change_new.html", {"types": ChangeType.choices})


@login_required
def change_transition(request: HttpRequest, pk: int) -> HttpResponse:
    change = _change(request, pk, "change")  # another tenant's change is not found, whatever the method
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        transition(change, request.POST.get("to", ""), user=request.user, reason=request.POST.get("reason", ""),
                   source="web")
        messages.success(request, f"Change {change.pk} is now {request.POST.get('to')}.")
    except TransitionRefused as exc:
        messages.error(request, str(exc))
    return redirect("changes:change_detail", pk=change.pk)


@login_required
def change_decide(request: HttpRequest, pk: int) -> HttpResponse:
    change = _change(request, pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    decision = request.POST.get("decision", "")
    try:
        decide(change, request.user, decision, request.POST.get("comment", ""))
        messages.success(request, f"Your decision ({decision}) on change {change.pk} is recorded.")
    except (ApprovalRefused, TransitionRefused) as exc:
        messages.error(request, str(exc))
    return redirect("changes:change_detail", pk=change.pk)


@login_required
def change_apply(request: HttpRequest, pk: int) -> HttpResponse:
    from cmdb.jobs.registry import job_enqueue

    change = _change(request, pk, "change")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if change.state not in (ChangeState.APPROVED, ChangeState.SCHEDULED):
        messages.error(request, f"Change {change.pk} is {change.state}; only approved or scheduled changes are "
                                "applied.")
    else:
        job = job_enqueue("changes.apply", kwargs={"change_id": change.pk}, user=request.user)
        messages.success(request, f"Applying change {change.pk} (job {job.pk}).")
    return redirect("changes:change_detail", pk=change.pk)
