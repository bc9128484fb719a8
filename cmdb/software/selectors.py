"""The software questions a sysadmin asks, shared by the API filters' callers, the CLI and the UI pages.

Each returns a queryset of installations (permission filtering is the caller's, with
``restrict``), so every front end answers the same question the same way: version
ranges compare the stored sort keys in SQL with each product's own version scheme.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from .filtersets import VersionCompareFilter
from .models import SoftwareInstallation, SoftwareProduct


def find_product(ref: str) -> SoftwareProduct | None:
    """A product by slug or (case-insensitive) name."""
    ref = ref.strip()
    if not ref:
        return None
    return SoftwareProduct.objects.filter(Q(slug=ref) | Q(name__iexact=ref)).order_by("pk").first()


def running(product: SoftwareProduct, *, below: str | None = None, at_least: str | None = None,
            qs: QuerySet | None = None) -> QuerySet:
    """Installations of ``product`` in versions ``at_least <= v < below`` (either bound optional)."""
    qs = (SoftwareInstallation.objects.all() if qs is None else qs).filter(product=product)
    for value, lookup in ((below, "lt"), (at_least, "gte")):
        if value:
            qs = VersionCompareFilter(key_path="version__sort_key", scheme_path="product__version_scheme",
                                      lookup=lookup).filter(qs, value)
    return qs


def installed_on(host: str, qs: QuerySet | None = None) -> QuerySet:
    """What is installed on a CI given by registry id or exact name."""
    qs = SoftwareInstallation.objects.all() if qs is None else qs
    host = host.strip()
    return qs.filter(ci_id=int(host)) if host.isdigit() else qs.filter(ci__name=host)


def past_end_of_support(within_days: int = 0, qs: QuerySet | None = None,
                        today: dt.date | None = None) -> QuerySet:
    """Installations whose version's support ended (or ends within ``within_days``)."""
    qs = SoftwareInstallation.objects.all() if qs is None else qs
    limit = (today or dt.date.today()) + dt.timedelta(days=within_days)
    return qs.filter(version__end_of_support__lt=limit)
