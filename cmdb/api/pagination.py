"""NetBox-style limit/offset pagination.

``limit=0`` means "as many as the server allows" (MAX_PAGE_SIZE), which is
how pynetbox and the Ansible inventory fetch everything; ``next`` is an
absolute URL that keeps every filter.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

#: The database's OFFSET and LIMIT are 64-bit: a count from the query string stays below half of that, so
#: that an offset plus a limit (the end of a slice) still fits.
MAX_QUERY_INT = 2**62 - 1


def query_int(params: Any, name: str, default: int | None, *, maximum: int = MAX_QUERY_INT) -> int | None:
    """A non-negative whole number from the query string (``limit``, ``offset``), else a 400 naming it.

    Every view that reads a count from the query string takes it here, so that ``-5`` (a negative
    slice), twenty digits (beyond the database's 64-bit OFFSET) or ``²`` (a digit ``int()`` refuses)
    is the client's error and not a server error.
    """
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValidationError({name: [f"'{raw[:40]}' is not a whole number."]}) from exc
    if value < 0:
        raise ValidationError({name: ["Must not be negative."]})
    if value > maximum:
        raise ValidationError({name: [f"Must be at most {maximum}."]})
    return value


def _int_param(request: Any, name: str, default: int) -> int:
    value = query_int(request.query_params, name, default)
    assert value is not None
    return value


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    def paginate(self, queryset: QuerySet, request: Any, *, count: bool = True) -> tuple[QuerySet, int | None]:
        """Return the page's queryset and the total count (one COUNT query).

        With ``count=False`` the total is left for :meth:`set_count`, which
        can often do without the COUNT query once the page is known.
        """
        self.request = request
        self.max_limit = settings.MAX_PAGE_SIZE
        limit = _int_param(request, "limit", settings.REST_FRAMEWORK["PAGE_SIZE"])
        self.limit = self.max_limit if limit == 0 else min(limit, self.max_limit)
        self.offset = _int_param(request, "offset", 0)
        self.count = queryset.count() if count else None
        return queryset[self.offset : self.offset + self.limit], self.count

    def set_count(self, queryset: QuerySet, rows: int) -> int:
        """The total, given the number of rows on the page: a short page is the last one, so the
        total is known without a COUNT query (single hits, small filtered lists)."""
        if 0 < rows < self.limit or (rows == 0 and self.offset == 0):
            self.count = self.offset + rows
        else:
            self.count = queryset.count()
        return self.count

    def get_next_link(self) -> str | None:
        if self.offset + self.limit >= self.count:
            return None
        url = self.request.build_absolute_uri()
        url = replace_query_param(url, self.limit_query_param, self.limit)
        return replace_query_param(url, self.offset_query_param, self.offset + self.limit)

    def get_previous_link(self) -> str | None:
        if self.offset <= 0:
            return None
        url = self.request.build_absolute_uri()
        url = replace_query_param(url, self.limit_query_param, self.limit)
        if self.offset - self.limit <= 0:
            return remove_query_param(url, self.offset_query_param)
        return replace_query_param(url, self.offset_query_param, self.offset - self.limit)

    def response(self, results: list[Any]) -> Response:
        return Response(
            {
                "count": self.count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": results,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return super().get_paginated_response_schema(schema)
