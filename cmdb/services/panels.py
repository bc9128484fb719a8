"""The relationships panel on every CI's detail page: edges in both directions and redundancy memberships.

Two queries whatever the number of rows (relationships with their type and both ends,
memberships with their group and member), both through ``restrict``; a CI at the other end
that the user may not see is shown as "hidden CI", as in impact analysis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse

from cmdb.users.permissions import restrict

from .models import RedundancyMember, Relationship

if TYPE_CHECKING:
    from .impact import Visibility

HIDDEN = "hidden CI"  # as in impact analysis (cmdb.services.impact.HIDDEN)
LIMIT = 200  # rows shown; the full list is one click away on the relationships list


def _visibility(user: Any) -> Visibility:
    from .impact import Visibility  # imported late: the impact engine pulls in numpy, page start-up should not

    return Visibility(user)


def _other(ci: Any, vis: Visibility) -> dict[str, Any]:
    if not vis.can_see(ci.kind, ci.tenant_id):
        return {"name": HIDDEN, "kind": "", "url": None}
    return {"name": ci.name, "kind": ci.kind, "url": reverse("ui:ci", args=[ci.pk])}


def relationship_rows(ci_id: int, user: Any) -> tuple[list[dict[str, Any]], bool]:
    """(rows, truncated): outgoing edges named by the type, incoming by its inverse name."""
    qs = restrict(Relationship.objects.filter(Q(source_id=ci_id) | Q(target_id=ci_id)), user, "view")
    rels = list(qs.select_related("type", "source", "target").order_by("type__name", "id")[:LIMIT + 1])
    vis = _visibility(user)
    rows = []
    for rel in rels[:LIMIT]:
        outgoing = rel.source_id == ci_id
        rows.append({"direction": "out" if outgoing else "in",
                     "label": rel.type.name if outgoing else rel.type.inverse_name, "type_slug": rel.type.slug,
                     "other": _other(rel.target if outgoing else rel.source, vis), "origin": rel.origin,
                     "description": rel.description})
    rows.sort(key=lambda r: (r["direction"] != "out", r["label"]))
    return rows, len(rels) > LIMIT


def membership_rows(ci_id: int, user: Any) -> list[dict[str, Any]]:
    """Groups this CI belongs to and, for a redundancy group, its members."""
    qs = restrict(RedundancyMember.objects.filter(Q(ci_id=ci_id) | Q(group__ci_id=ci_id)), user, "view")
    vis = _visibility(user)
    rows = []
    for m in qs.select_related("group", "group__ci", "ci").order_by("group__name", "ci__name")[:LIMIT]:
        if m.ci_id == ci_id:
            group_ci = m.group.ci
            other = _other(group_ci, vis) if group_ci is not None else {"name": m.group.name, "kind": "",
                                                                         "url": None}
            rows.append({"label": f"member of redundancy group (needs {m.group.min_up} up)", "other": other})
        else:
            rows.append({"label": "has member", "other": _other(m.ci, vis)})
    return rows


def relationships_panel(request: Any, obj: Any) -> str | None:
    ci_id = getattr(obj, "ci_id", None)
    if ci_id is None:
        return None
    rows, truncated = relationship_rows(ci_id, request.user)
    members = membership_rows(ci_id, request.user)
    return render_to_string("services/panel_relationships.html", {
        "rows": rows, "members": members, "truncated": truncated, "limit": LIMIT, "ci_id": ci_id,
        "impact_url": f"{reverse('services-impact-page')}?ci={ci_id}",
        "out_url": f"/services/relationships/?source_id={ci_id}",
        "in_url": f"/services/relationships/?target_id={ci_id}",
    }, request=request)
