"""The installed-software panel on every CI's detail page (only for CIs with installations).

One query (installations with product and version, through ``restrict``), whatever the
number of packages; a host reporting a thousand packages shows the first rows and links to
the "installed on" page for all of them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.template.loader import render_to_string
from django.urls import reverse

from cmdb.users.permissions import restrict

from .models import SoftwareInstallation

LIMIT = 100


def installed_software_panel(request: Any, obj: Any) -> str | None:
    ci_id = getattr(obj, "ci_id", None)
    if ci_id is None:
        return None
    qs = restrict(SoftwareInstallation.objects.filter(ci_id=ci_id), request.user, "view")
    rows = list(qs.select_related("product", "version")
                .order_by("product__vendor", "product__name", "version__sort_key", "id")[:LIMIT + 1])
    if not rows:
        return None
    return render_to_string("software/panel_installed.html", {
        "installations": rows[:LIMIT], "truncated": len(rows) > LIMIT, "limit": LIMIT, "today": dt.date.today(),
        "all_url": f"{reverse('software-installed-on')}?host={ci_id}",
    }, request=request)
