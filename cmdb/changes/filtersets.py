from cmdb.api.filters import BaseFilterSet

from . import models


class ChangeFilterSet(BaseFilterSet):
    class Meta:
        model = models.Change
        fields = ["title", "type", "state", "requester", "implementer", "tenant", "template", "window_start",
                  "window_end", "risk_score"]


class FreezeFilterSet(BaseFilterSet):
    class Meta:
        model = models.Freeze
        fields = ["name", "start", "end"]


class ChangeTemplateFilterSet(BaseFilterSet):
    class Meta:
        model = models.ChangeTemplate
        fields = ["name"]


class ApprovalGroupFilterSet(BaseFilterSet):
    class Meta:
        model = models.ApprovalGroup
        fields = ["name", "tenant", "quorum"]


class ApprovalFilterSet(BaseFilterSet):
    class Meta:
        model = models.Approval
        fields = ["change", "group", "user", "decision"]


class ChangePlanFilterSet(BaseFilterSet):
    class Meta:
        model = models.ChangePlan
        fields = ["change", "plan", "status"]


class ChangeTransitionFilterSet(BaseFilterSet):
    class Meta:
        model = models.ChangeTransition
        fields = ["change", "from_state", "to_state", "user", "at"]


class ChangeCollisionFilterSet(BaseFilterSet):
    class Meta:
        model = models.ChangeCollision
        fields = ["change_a", "change_b", "detected_at"]


class UnauthorizedChangeFilterSet(BaseFilterSet):
    class Meta:
        model = models.UnauthorizedChange
        fields = ["ci", "source", "acknowledged", "detected_at"]
