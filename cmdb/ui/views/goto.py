"""``/ci/<registry id>/``: the typed page of any CI, so panels can link CIs without a query per row.

Relationship and software panels know linked CIs only by registry id and kind; resolving each
one to its typed row while rendering would cost a query per row.  Links point here instead and
the look-up happens once, when the user clicks.
"""

from __future__ import annotations

from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from cmdb.core.models.registry import ConfigurationItem
from cmdb.users.permissions import restrict

from ..registry import object_url


@login_required
def ci_goto(request: HttpRequest, ci_id: int) -> HttpResponse:
    kind = ConfigurationItem.objects.filter(pk=ci_id).values_list("kind", flat=True).first()
    try:
        model = apps.get_model(kind) if kind else None
    except (LookupError, ValueError):
        model = None
    pk = None
    if model is not None:
        pk = restrict(model._default_manager.filter(ci_id=ci_id), request.user, "view").values_list(
            "pk", flat=True).first()
    url = object_url(model, pk) if pk is not None else None
    if url is None:
        raise Http404(f"No CI with ID {ci_id}, or you may not see it.")
    return redirect(url)
