from cmdb.api.filters import BaseFilterSet, MultiValueFilter

from . import models


class TenantGroupFilterSet(BaseFilterSet):
    class Meta:
        model = models.TenantGroup
        fields = ["name", "slug", "parent", "description"]


class TenantFilterSet(BaseFilterSet):
    class Meta:
        model = models.Tenant
        fields = ["name", "slug", "group", "description"]


class ContactRoleFilterSet(BaseFilterSet):
    class Meta:
        model = models.ContactRole
        fields = ["name", "slug", "description"]


class ContactFilterSet(BaseFilterSet):
    class Meta:
        model = models.Contact
        fields = ["name", "title", "phone", "email", "address", "tenant", "description"]


class ContactAssignmentFilterSet(BaseFilterSet):
    object_type = MultiValueFilter(method="filter_object_type")

    class Meta:
        model = models.ContactAssignment
        fields = ["object_id", "contact", "role", "priority"]

    def filter_object_type(self, queryset, name, value):  # type: ignore[no-untyped-def]
        if not value:
            return queryset
        pairs = [v.split(".", 1) for v in value if "." in v]
        from django.db.models import Q

        q = Q(pk__in=[])
        for app_label, model in pairs:
            q |= Q(object_type__app_label=app_label, object_type__model=model)
        return queryset.filter(q)
