"""Web-UI pages of change management: the change list and detail pages (views.py), generic pages for
freezes, templates, approver groups and unauthorized changes, and the menu entries."""

from cmdb.ui.registry import register, register_link

from . import filtersets, models

register(models.Freeze, filterset=filtersets.FreezeFilterSet,
         columns=["name", "start", "end", "blocks_types", "reason"], group="Changes",
         form_fields=["name", "start", "end", "reason", "services", "tenants", "sites", "blocks_types"])
register(models.ChangeTemplate, filterset=filtersets.ChangeTemplateFilterSet,
         columns=["name", "max_duration", "allowed_kinds", "allowed_reconcilers"], group="Changes",
         form_fields=["name", "description", "allowed_kinds", "allowed_cis", "max_duration", "rollback_plan",
                      "allowed_reconcilers"])
register(models.ApprovalGroup, filterset=filtersets.ApprovalGroupFilterSet,
         columns=["name", "tenant", "quorum"], group="Changes",
         form_fields=["name", "description", "members", "quorum", "tenant", "services"])
register(models.UnauthorizedChange, filterset=filtersets.UnauthorizedChangeFilterSet,
         columns=["ci", "source", "source_ref", "detected_at", "acknowledged"], group="Changes", read_only=True,
         list_filters=["source", "acknowledged"])

register_link("Changes", "Change requests", "changes:change_list", "changes.change")
register_link("Changes", "Change calendar", "changes:calendar", "changes.change")
