from cmdb.api.filters import BaseFilterSet

from . import models

CI_FIELDS = ["status", "tenant", "criticality", "owner", "last_seen", "description"]


class ServiceFilterSet(BaseFilterSet):
    class Meta:
        model = models.Service
        fields = ["name", "slug", "service_type", "sla_availability", "support_hours", "link", *CI_FIELDS]


class RelationshipTypeFilterSet(BaseFilterSet):
    class Meta:
        model = models.RelationshipType
        fields = ["name", "slug", "inverse_name", "propagation", "builtin", "description"]


class RelationshipFilterSet(BaseFilterSet):
    class Meta:
        model = models.Relationship
        fields = ["source", "target", "type", "origin", "description"]
        related_paths = {"source_kind": "source__kind", "target_kind": "target__kind"}


class RedundancyGroupFilterSet(BaseFilterSet):
    class Meta:
        model = models.RedundancyGroup
        fields = ["name", "min_up", *CI_FIELDS]


class RedundancyMemberFilterSet(BaseFilterSet):
    class Meta:
        model = models.RedundancyMember
        fields = ["group", "ci"]
