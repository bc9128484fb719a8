"""Filters for the software API, including version comparisons that run as SQL on the sort key."""

from __future__ import annotations

import datetime as dt
from functools import reduce
from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from rest_framework.exceptions import ValidationError

from cmdb.api.filters import BaseFilterSet, BooleanFilter, MultiValueFilter, RelatedFilter

from . import models
from .choices import VersionScheme
from .versions import version_key

CI_FIELDS = ["status", "tenant", "criticality", "owner", "last_seen", "description"]


class VersionCompareFilter(django_filters.CharFilter):
    """``version__lt=3.0.13``: compare with each product's own version scheme, in SQL.

    The value is turned into a sort key once per scheme and compared with the
    stored keys, so "below V" is an index range scan, not a Python loop.
    """

    def __init__(self, *args: Any, key_path: str, scheme_path: str, lookup: str, **kwargs: Any) -> None:
        self.key_path, self.scheme_path, self.compare = key_path, scheme_path, lookup
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet, value: str) -> QuerySet:
        if not value:
            return qs
        parts = [Q(**{self.scheme_path: scheme, f"{self.key_path}__{self.compare}": version_key(value, scheme)})
                 for scheme in VersionScheme.values]
        return qs.filter(reduce(lambda a, b: a | b, parts))


def version_filters(key_path: str, scheme_path: str) -> dict[str, VersionCompareFilter]:
    return {f"version__{lookup}": VersionCompareFilter(key_path=key_path, scheme_path=scheme_path, lookup=lookup)
            for lookup in ("lt", "lte", "gt", "gte")}


class EndOfSupportFilter(BooleanFilter):
    """``past_end_of_support=true``: versions whose end-of-support date lies before today."""

    def __init__(self, *args: Any, path: str, **kwargs: Any) -> None:
        self.path = path
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet, value: Any) -> QuerySet:
        if value is None:
            return qs
        q = Q(**{f"{self.path}__lt": dt.date.today()})
        return qs.filter(q) if value else qs.exclude(q)


class SoftwareProductFilterSet(BaseFilterSet):
    class Meta:
        model = models.SoftwareProduct
        fields = ["vendor", "name", "slug", "category", "version_scheme", "description"]


class SoftwareVersionFilterSet(BaseFilterSet):
    past_end_of_support = EndOfSupportFilter(path="end_of_support")
    locals().update(version_filters("sort_key", "product__version_scheme"))

    class Meta:
        model = models.SoftwareVersion
        fields = ["product", "version", "release_date", "end_of_support", "description"]
        related_paths = {"vendor": "product__vendor", "category": "product__category"}


class ProductFilter(RelatedFilter):
    """``product=openssl``: a product by slug or by name.

    Why names too: people ask about "openssl", and two vendors ship a product of that name
    (Debian's and Red Hat's packages, each with its own version scheme); the name means all of
    them, which ``version__lt`` then compares each in its own scheme.  A value that is neither a
    slug nor a name is a 400, as for every related filter.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, related=models.SoftwareProduct, to_field="slug", **kwargs)

    def filter(self, qs: QuerySet, value: list[Any]) -> QuerySet:
        if not value:
            return qs
        wanted = set(value)
        rows = list(self._choices().filter(Q(slug__in=wanted) | Q(name__in=wanted)).values_list("pk", "slug", "name"))
        known = {slug for _pk, slug, _n in rows} | {name for _pk, _s, name in rows}
        missing = sorted(str(v) for v in wanted if v not in known)
        if missing:
            message = f"Select a valid choice. {', '.join(missing)} is neither the slug nor the name of a product."
            raise ValidationError({self.param_name: [message]})
        q = Q(**{f"{self.field_name}__in": [pk for pk, _s, _n in rows]})
        return qs.exclude(q) if self.exclude else qs.filter(q)


class SoftwareInstallationFilterSet(BaseFilterSet):
    product = ProductFilter(field_name="product")
    product__n = ProductFilter(field_name="product", exclude=True)
    version = MultiValueFilter(field_name="version__version")
    past_end_of_support = EndOfSupportFilter(path="version__end_of_support")
    locals().update(version_filters("version__sort_key", "product__version_scheme"))

    class Meta:
        model = models.SoftwareInstallation
        fields = ["ci", "version", "product", "first_seen", "last_seen", "source"]
        related_paths = {"ci_kind": "ci__kind", "tenant": "ci__tenant", "vendor": "product__vendor",
                         "category": "product__category", "end_of_support": "version__end_of_support"}


class LicenseFilterSet(BaseFilterSet):
    class Meta:
        model = models.License
        fields = ["name", "product", "vendor", "metric", "quantity", "cost", "contract_number", "order_number",
                  "start_date", "end_date", *CI_FIELDS]


class LicenseAssignmentFilterSet(BaseFilterSet):
    class Meta:
        model = models.LicenseAssignment
        fields = ["license", "ci", "user", "group", "description"]
        related_paths = {"product": "license__product", "tenant": "license__tenant"}
