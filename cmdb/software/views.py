"""The license compliance report page and its CSV export."""

from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .compliance import compliance

CSV_COLUMNS = ["name", "product", "metric", "tenant", "quantity", "owned", "used", "over_use", "unused", "cost",
               "currency", "end_date", "days_to_expiry", "status", "note"]


@login_required
def compliance_report(request: HttpRequest) -> HttpResponse:
    days_raw = request.GET.get("days", "30")
    days = int(days_raw) if days_raw.isascii() and days_raw.isdigit() and int(days_raw) <= 3650 else 30
    report = compliance(expiring_days=days, user=request.user)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="license-compliance-{report.today}.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_COLUMNS)
        for row in report.rows:
            writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
        return response
    return render(request, "software/compliance.html", {"report": report, "summary": report.summary(),
                                                         "days": days})
