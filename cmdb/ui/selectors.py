"""Read-side queries of the UI (dashboard), all through restrict()."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from cmdb.core.models import ConfigurationItem
from cmdb.users.permissions import restrict


def dashboard_data(user: Any) -> dict[str, Any]:
    cis = restrict(ConfigurationItem.objects.all(), user, "view")
    by_kind = [{"label": k, "n": n, "url": None} for k, n in
               cis.order_by("kind").values("kind").annotate(n=Count("id")).values_list("kind", "n")]
    return {"by_kind": by_kind}
