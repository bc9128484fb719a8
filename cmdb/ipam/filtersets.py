from typing import Any

from django.db.models import Q, QuerySet

from cmdb.api.filters import BaseFilterSet, BooleanFilter, MultiValueFilter

from . import models


class PrefixFilterSet(BaseFilterSet):
    class Meta:
        model = models.Prefix
        fields = ["prefix", "family", "site", "tenant", "status", "vlan_vid", "is_pool", "description"]


class AddressFilter(MultiValueFilter):
    """``address=10.0.0.1`` matches 10.0.0.1 with any mask, as in NetBox."""

    def filter(self, qs: QuerySet, value: list[str]) -> QuerySet:
        if not value:
            return qs
        q = Q()
        for v in value:
            q |= Q(address=v) if "/" in v else Q(address__startswith=f"{v}/")
        return qs.exclude(q) if self.exclude else qs.filter(q)


class IPAddressFilterSet(BaseFilterSet):
    address = AddressFilter()
    assigned_to_interface = BooleanFilter(method="filter_assigned")

    class Meta:
        model = models.IPAddress
        fields = ["family", "status", "role", "tenant", "interface", "vminterface", "dns_name", "description"]
        related_paths = {"device": "interface__device", "virtual_machine": "vminterface__virtual_machine"}

    def filter_assigned(self, queryset: QuerySet, name: str, value: Any) -> QuerySet:
        q = Q(interface__isnull=False) | Q(vminterface__isnull=False)
        return queryset.filter(q) if value else queryset.exclude(q)
