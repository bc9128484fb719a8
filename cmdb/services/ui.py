"""Web-UI pages for services, relationships and redundancy groups."""

from cmdb.ui.registry import register, register_link, register_panel

from . import filtersets, models
from .panels import relationships_panel

register(models.Service, filterset=filtersets.ServiceFilterSet,
         columns=["name", "service_type", "tenant", "criticality", "sla_availability", "support_hours", "owner"],
         group="Services", list_filters=["service_type", "tenant", "criticality"])
register(models.RelationshipType, filterset=filtersets.RelationshipTypeFilterSet,
         columns=["name", "slug", "inverse_name", "propagation", "builtin"], group="Services")
register(models.Relationship, filterset=filtersets.RelationshipFilterSet,
         columns=["source", "type", "target", "origin"], group="Services")
register(models.RedundancyGroup, filterset=filtersets.RedundancyGroupFilterSet,
         columns=["name", "min_up", "tenant", "criticality"], group="Services")
register(models.RedundancyMember, filterset=filtersets.RedundancyMemberFilterSet,
         columns=["group", "ci"], group="Services")

register_link("Services", "Impact analysis", "services-impact-page", "services.relationship")
register_panel("*", relationships_panel)
