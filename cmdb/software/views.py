"""The license compliance report page and its CSV export."""

from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .compliance import compliance

CSV_COLUMNS = ["name", "product", "metric", "tenant", "quantity", "owned", "installed", "used", "over_use", "unused",
               "cost", "currency", "end_date", "days_to_expiry", "status", "note"]


@login_required
def compliance_report(request: HttpRequest) -> HttpResponse:
    days_raw = request.GET.get("days", "30")
    days = int(days_raw) if days_raw.isascii() and days_raw.isdigit() and int(days_raw) <= 3650 else 30
    report = compliance(expiring_days=days, user=request.user)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="license-compliance-{report.today}.csv"'
        writer = csv.writer(response)
        sources = [s["source"] for s in report.sources]  # other seat users (VDI), after installed
        at = CSV_COLUMNS.index("installed") + 1
        writer.writerow([*CSV_COLUMNS[:at], *sources, *CSV_COLUMNS[at:]])
        for row in report.rows:
            cells = ["" if row[c] is None else row[c] for c in CSV_COLUMNS]
            writer.writerow([*cells[:at], *(row["other_use"].get(s, 0) for s in sources), *cells[at:]])
        return response
    # Rows with their other sources' seats in the report's column order (a template cannot look keys up).
    rows = [(row, [row["other_use"].get(s["source"], 0) for s in report.sources]) for row in report.rows]
    return render(request, "software/compliance.html", {"report": report, "rows": rows, "summary": report.summary(),
                                                         "days": days})
