"""The impact analysis page: pick CIs and a failure mode, see services, a dependency drawing and a printable report.

The drawing is laid out here, on the server, as plain SVG: one column per hop
from the failed CIs, nodes in breadth-first order, an edge from each shown CI
to the CI that explains it.  ``static/services/impact.js`` (our own ~40 lines)
makes it interactive: clicking a node highlights its explanation path.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .impact import HIDDEN, MODES, UnknownCI, failure_heading, impact_of, resolve_refs

MAX_DRAWN = 150
COL_W, ROW_H, BOX_W, BOX_H = 230, 30, 200, 22


def _resolve(refs: list[str], user: Any) -> tuple[list[int], list[str]]:
    """CI ids from ids or names, among the CIs the user may see (the API's rules)."""
    return resolve_refs(refs, user)


def layout(failed: list[dict[str, Any]], affected: list[dict[str, Any]]) -> dict[str, Any]:
    """Columns by hop count; returns nodes with coordinates and edges between shown nodes."""
    columns: dict[int, int] = {}
    nodes: dict[Any, dict[str, Any]] = {}

    def place(key: Any, label: str, depth: int, css: str, path: list[Any]) -> None:
        row = columns.get(depth, 0)
        columns[depth] = row + 1
        nodes[key] = {"key": key, "label": label[:28], "title": label, "x": 10 + depth * COL_W,
                      "y": 10 + row * ROW_H, "css": css, "path": " ".join(str(p) for p in path if p is not None)}

    for f in failed:
        place(f["ci_id"], f["name"], 0, "failed", [f["ci_id"]])
    edges = []
    for a in affected[:MAX_DRAWN]:
        path = a["path"]
        # A hidden CI on the path is drawn once per place it explains, never named.
        for k in range(1, len(path) - 1):
            if path[k] is None:
                key = f"hidden-{a['ci_id']}-{k}"
                place(key, HIDDEN, k, "hidden", [])
                path = [*path[:k], key, *path[k + 1:]]
        place(a["ci_id"], a["name"], len(path) - 1, a["state"], path)
        parent = path[-2] if len(path) > 1 else None
        if parent in nodes:
            edges.append((nodes[parent], nodes[a["ci_id"]]))
    lines = [{"x1": p["x"] + BOX_W, "y1": p["y"] + BOX_H / 2, "x2": c["x"], "y2": c["y"] + BOX_H / 2,
              "from": p["key"], "to": c["key"]} for p, c in edges]
    width = 20 + (max(columns) + 1 if columns else 1) * COL_W
    height = 20 + max(columns.values(), default=1) * ROW_H
    return {"nodes": list(nodes.values()), "lines": lines, "width": width, "height": height, "box_w": BOX_W,
            "box_h": BOX_H}


@login_required
def impact_page(request: HttpRequest) -> HttpResponse:
    refs = [r for value in request.GET.getlist("ci") for r in value.replace(",", " ").split()]
    mode = request.GET.get("mode", "down")
    context: dict[str, Any] = {"refs": " ".join(refs), "mode": mode, "modes": list(MODES),
                               "print": request.GET.get("print") == "1"}
    if refs:
        ids, errors = _resolve(refs, request.user)
        if mode not in MODES:
            errors.append(f"mode must be one of {', '.join(MODES)}")
        if not errors:
            try:
                result = impact_of(ids, mode=mode, user=request.user)
            except UnknownCI as exc:
                errors.append(str(exc))
            else:
                page = result.page(500)
                context.update(result=result, summary=result.summary(), affected=page,
                               heading=failure_heading([f["name"] for f in result.failed], mode),
                               graph=layout(result.failed, page), drawn=min(len(page), MAX_DRAWN))
        context["errors"] = errors
    return render(request, "services/impact.html", context)
