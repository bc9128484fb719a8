"""Filter sets for prefixes and IP addresses, with NetBox's network filters.

``within``/``within_include``/``contains``/``parent``/``mask_length`` compare the derived
range columns of :mod:`cmdb.ipam.ranges` (indexed, the same SQL on PostgreSQL and SQLite).
A value that is not a network is a 400 naming the parameter (NetBox answers an empty list).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q, QuerySet

from cmdb.api.filters import BaseFilterSet, BooleanFilter, MultiValueFilter

from . import models
from .ranges import Span, parse_address, parse_span


class NetworkField(forms.CharField):
    """A prefix (``10.1.0.0/16``) or, with ``host_ok``, a single address, parsed into a :class:`Span`."""

    def __init__(self, *args: Any, host_ok: bool = True, **kwargs: Any) -> None:
        self.host_ok = host_ok
        super().__init__(*args, **kwargs)

    def clean(self, value: Any) -> Span:
        text = super().clean(value)
        try:
            return parse_span(text, host_ok=self.host_ok)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc


class NetworkFilter(MultiValueFilter):
    """Repeatable network filter; each value gives a condition on the range columns, ORed.

    ``relation`` is one of:

    * ``within``: prefixes strictly inside the value; ``within_include``: inside or equal;
    * ``contains``: prefixes that hold the value (a prefix, or an address);
    * ``host_in``: IP addresses whose address lies in the value (``parent``).
    """

    def __init__(self, *args: Any, relation: str, host_ok: bool = False, **kwargs: Any) -> None:
        self.relation = relation
        super().__init__(*args, inner=NetworkField(host_ok=host_ok), **kwargs)

    def condition(self, span: Span) -> Q:
        if self.relation == "host_in":
            return Q(family=span.family, host_key__gte=span.start, host_key__lte=span.end)
        if self.relation == "contains":
            return Q(family=span.family, network_start__lte=span.start, network_end__gte=span.end,
                     mask_length__lte=span.length)
        inside = Q(family=span.family, network_start__gte=span.start, network_end__lte=span.end)
        if self.relation == "within":
            return inside & Q(mask_length__gt=span.length)
        return inside & Q(mask_length__gte=span.length)

    def filter(self, qs: QuerySet, value: list[Span]) -> QuerySet:
        if not value:
            return qs
        q = Q()
        for span in value:
            q |= self.condition(span)
        return qs.exclude(q) if self.exclude else qs.filter(q)


class PrefixValueFilter(MultiValueFilter):
    """``prefix=10.1.0.0/16``: the prefix as written or with host bits (normalised, as NetBox does)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, inner=NetworkField(host_ok=False), **kwargs)

    def filter(self, qs: QuerySet, value: list[Span]) -> QuerySet:
        if not value:
            return qs
        q = Q()
        for span in value:
            q |= Q(family=span.family, network_start=span.start, mask_length=span.length)
        return qs.exclude(q) if self.exclude else qs.filter(q)


def _mask(lookup: str = "exact", exclude: bool = False) -> MultiValueFilter:
    """``mask_length`` (0-128) with a lookup; on the derived column, indexed with the family."""
    return MultiValueFilter(field_name="mask_length", lookup_expr=lookup, exclude=exclude,
                            inner=forms.IntegerField(min_value=0, max_value=128))


FAMILY = forms.TypedChoiceField(choices=[("4", "IPv4"), ("6", "IPv6")], coerce=int)


class PrefixFilterSet(BaseFilterSet):
    prefix = PrefixValueFilter()
    prefix__n = PrefixValueFilter(exclude=True)
    family = MultiValueFilter(field_name="family", inner=FAMILY)
    within = NetworkFilter(relation="within")
    within_include = NetworkFilter(relation="within_include")
    # NetBox 2.x's name for within_include, still sent by older scripts.
    parent = NetworkFilter(relation="within_include")
    contains = NetworkFilter(relation="contains", host_ok=True)
    mask_length = _mask()
    mask_length__n = _mask(exclude=True)
    mask_length__gte = _mask("gte")
    mask_length__lte = _mask("lte")

    class Meta:
        model = models.Prefix
        fields = ["site", "tenant", "status", "vlan_vid", "is_pool", "description"]


class AddressField(forms.CharField):
    def clean(self, value: Any) -> tuple[int, str, int | None]:
        try:
            return parse_address(super().clean(value))
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc


class AddressFilter(MultiValueFilter):
    """``address=10.0.0.1`` matches 10.0.0.1 with any mask, ``10.0.0.1/24`` only that; as in NetBox."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, inner=AddressField(), **kwargs)

    def filter(self, qs: QuerySet, value: list[tuple[int, str, int | None]]) -> QuerySet:
        if not value:
            return qs
        q = Q()
        for family, key, length in value:
            cond = Q(family=family, host_key=key)
            if length is not None:
                cond &= Q(mask_length=length)
            q |= cond
        return qs.exclude(q) if self.exclude else qs.filter(q)


class IPAddressFilterSet(BaseFilterSet):
    address = AddressFilter()
    address__n = AddressFilter(exclude=True)
    family = MultiValueFilter(field_name="family", inner=FAMILY)
    parent = NetworkFilter(relation="host_in")
    assigned_to_interface = BooleanFilter(method="filter_assigned")
    assigned = BooleanFilter(method="filter_assigned")
    mask_length = _mask()
    mask_length__n = _mask(exclude=True)
    mask_length__gte = _mask("gte")
    mask_length__lte = _mask("lte")

    class Meta:
        model = models.IPAddress
        fields = ["status", "role", "tenant", "interface", "vminterface", "dns_name", "description"]
        related_paths = {"device": "interface__device", "virtual_machine": "vminterface__virtual_machine"}

    def filter_assigned(self, queryset: QuerySet, name: str, value: Any) -> QuerySet:
        if value is None:
            return queryset
        q = Q(interface__isnull=False) | Q(vminterface__isnull=False)
        return queryset.filter(q) if value else queryset.exclude(q)
