"""UI pages for the software questions: which CIs run product P (in a version range), what is on host H,
which installations are past end of support.

The questions themselves live in :mod:`cmdb.software.selectors` (the CLI asks them too); these
views only read the form, restrict the installations to what the user may see and paginate:
two queries per page (count and rows, with CI, product and version joined), whatever the size.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cmdb.users.permissions import restrict

from . import selectors
from .models import SoftwareInstallation, SoftwareProduct

PER_PAGE = 100
MAX_DAYS = 3650


def _visible(request: HttpRequest) -> QuerySet:
    return restrict(SoftwareInstallation.objects.all(), request.user, "view")


def _page(request: HttpRequest, qs: QuerySet | None, context: dict[str, Any], params: dict[str, str]) -> HttpResponse:
    if qs is not None:
        qs = qs.select_related("ci", "product", "version").order_by("ci__name", "product__name",
                                                                      "version__sort_key", "id")
        paginator = Paginator(qs, PER_PAGE)
        page = paginator.get_page(request.GET.get("page"))
        context.update(searched=True, page=page, rows=list(page.object_list), count=paginator.count,
                       query=urlencode(params))
    context["today"] = dt.date.today()
    return render(request, "software/query.html", context)


@login_required
def which_page(request: HttpRequest) -> HttpResponse:
    """Which CIs run product P, optionally below version V and/or at least version W."""
    params = {k: request.GET.get(k, "").strip()[:100] for k in ("product", "below", "at_least")}
    context: dict[str, Any] = {"query_name": "which", "title": "Which CIs run a product", "params": params,
                               "products": restrict(SoftwareProduct.objects.all(), request.user, "view")
                               .order_by("vendor", "name").values_list("slug", "vendor", "name")[:1000]}
    qs = None
    if params["product"]:
        product = selectors.find_product(params["product"])
        if product is None:
            context["error"] = f"No product {params['product']!r} (give its slug or name)."
        else:
            context["product"] = product
            qs = selectors.running(product, below=params["below"] or None, at_least=params["at_least"] or None,
                                   qs=_visible(request))
    return _page(request, qs, context, params)


@login_required
def installed_on_page(request: HttpRequest) -> HttpResponse:
    """What is installed on host H (registry id or exact name)."""
    params = {"host": request.GET.get("host", "").strip()[:200]}
    context: dict[str, Any] = {"query_name": "host", "title": "What is installed on a CI", "params": params}
    qs = selectors.installed_on(params["host"], qs=_visible(request)) if params["host"] else None
    return _page(request, qs, context, params)


@login_required
def end_of_support_page(request: HttpRequest) -> HttpResponse:
    """Installations past end of support, or reaching it within N days."""
    raw = request.GET.get("within", "0").strip()
    context: dict[str, Any] = {"query_name": "eos", "title": "Installations past end of support"}
    within = int(raw) if raw.isascii() and raw.isdigit() and int(raw) <= MAX_DAYS else None
    if within is None:
        context["error"] = f"“within” must be a number of days between 0 and {MAX_DAYS}."
        within = 0
    params = {"within": str(within)}
    context["params"] = params
    return _page(request, selectors.past_end_of_support(within, qs=_visible(request)), context, params)
