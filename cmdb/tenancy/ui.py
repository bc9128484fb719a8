"""Web-UI pages for tenants, tenant groups and contacts."""

from cmdb.ui.registry import RelatedTable, register

from . import filtersets, models

ORG = "Organization"

register(models.TenantGroup, filterset=filtersets.TenantGroupFilterSet, group=ORG,
         columns=["name", "slug", "parent", "description"])
register(models.Tenant, filterset=filtersets.TenantFilterSet, group=ORG,
         columns=["name", "slug", "group", "description", "tags"],
         related=[RelatedTable("Sites", "dcim.site", "tenant", ("name", "status"), "tenant_id"),
                  RelatedTable("Contacts", "tenancy.contact", "tenant", ("name", "title", "email"), "tenant_id")])
register(models.ContactRole, filterset=filtersets.ContactRoleFilterSet, group=ORG,
         columns=["name", "slug", "description"])
register(models.Contact, filterset=filtersets.ContactFilterSet, group=ORG,
         columns=["name", "title", "phone", "email", "tenant", "tags"])
register(models.ContactAssignment, filterset=filtersets.ContactAssignmentFilterSet, group=ORG,
         columns=["id", "contact", "role", "object_type", "object_id", "priority"],
         form_fields=["object_type", "object_id", "contact", "role", "priority"])
