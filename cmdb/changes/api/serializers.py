from __future__ import annotations

import zoneinfo
from typing import Any

from rest_framework import serializers

from cmdb.api.serializers import BaseModelSerializer
from cmdb.users.permissions import sole_tenant

from .. import assessment, models


class ChangeSerializer(BaseModelSerializer):
    """A change request.  ``state`` moves only through ``POST .../transition/``, ``approve/``, ``reject/`` and
    ``apply/``; the assessment columns are computed on submit."""

    fast_read = False  # the affected CIs are a many-to-many; lists prefetch them
    requester = serializers.CharField(read_only=True, source="requester.username", default=None)
    blast_radius_size = serializers.SerializerMethodField(
        help_text="How many CIs the change may impact (the ids are not listed: they span other tenants' CIs)")
    assessment = serializers.SerializerMethodField()

    class Meta:
        model = models.Change
        fields = ["id", "url", "display", "title", "description", "type", "state", "requester", "implementer",
                  "tenant", "window_start", "window_end", "timezone", "rollback_plan", "template",
                  "emergency_reason", "cis", "assessment", "risk_score", "assessed_at", "assessment_token",
                  "blast_radius_size", "started_at", "finished_at", "created", "last_updated"]
        read_only_fields = ["state", "assessment", "risk_score", "assessed_at", "assessment_token",
                            "started_at", "finished_at"]
        brief_fields = ["id", "url", "display", "title", "type", "state"]

    def get_blast_radius_size(self, obj: models.Change) -> int:
        return len(obj.blast_radius or [])

    def get_assessment(self, obj: models.Change) -> dict[str, Any]:
        """The stored assessment cut to what the reader may see (it is computed over every CI, and names other
        tenants' CIs, services and contacts).  A list carries only its counts and risk: cutting costs queries
        per change, which a list must not (a detail page, ``GET .../{id}/``, has it whole)."""
        stored = obj.assessment or {}
        request = self.context.get("request")
        view = self.context.get("view")
        if getattr(view, "action", None) == "retrieve" or not isinstance(stored, dict):
            return assessment.for_user(stored, getattr(request, "user", None)) if isinstance(stored, dict) else {}
        risk = stored.get("risk") or {}
        return {"summary": True, "risk": {k: risk.get(k) for k in ("score", "level") if k in risk},
                "counts": {k: len(stored.get(k) or []) for k in ("changed", "impacted", "services")}}

    def validate_timezone(self, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise serializers.ValidationError(f"Unknown IANA time zone {value!r} (e.g. Europe/Berlin).") from exc
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = self.instance
        start = attrs.get("window_start", getattr(instance, "window_start", None))
        end = attrs.get("window_end", getattr(instance, "window_end", None))
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError({"window_end": ["The window ends after it starts."]})
        request = self.context.get("request")
        if instance is None and request is not None and "tenant" not in attrs:
            tenant_id = sole_tenant(request.user)
            if tenant_id is not None:
                attrs["tenant_id"] = tenant_id
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Any:
        request = self.context.get("request")
        if request is not None and getattr(request.user, "is_authenticated", False):
            validated_data["requester"] = request.user
        return super().create(validated_data)


class ChangeTemplateSerializer(BaseModelSerializer):
    fast_read = False

    class Meta:
        model = models.ChangeTemplate
        fields = ["id", "url", "display", "name", "description", "allowed_kinds", "allowed_cis", "max_duration",
                  "rollback_plan", "allowed_reconcilers", "created", "last_updated"]
        brief_fields = ["id", "url", "display", "name"]

    def validate_allowed_kinds(self, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise serializers.ValidationError("Give a list of CI kinds such as dcim.device.")
        return value

    def validate_allowed_reconcilers(self, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise serializers.ValidationError("Give a list of reconciler names such as ansible.")
        return value


class ApprovalGroupSerializer(BaseModelSerializer):
    fast_read = False

    class Meta:
        model = models.ApprovalGroup
        fields = ["id", "url", "display", "name", "description", "members", "quorum", "tenant", "services",
                  "created", "last_updated"]
        brief_fields = ["id", "url", "display", "name", "quorum"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        members = attrs.get("members")
        quorum = attrs.get("quorum", getattr(self.instance, "quorum", 1))
        if members is not None and quorum > len(members):
            raise serializers.ValidationError({"quorum": [f"A quorum of {quorum} needs at least {quorum} members."]})
        return attrs


class ApprovalSerializer(BaseModelSerializer):
    user = serializers.CharField(read_only=True)
    fast_computed = {"user": (("user__username",), lambda v, c: v[0])}

    class Meta:
        model = models.Approval
        fields = ["id", "url", "display", "change", "group", "user", "decision", "comment", "created",
                  "last_updated"]
        brief_fields = ["id", "url", "display", "change", "decision"]


class ChangePlanSerializer(BaseModelSerializer):
    class Meta:
        model = models.ChangePlan
        fields = ["id", "url", "display", "change", "plan", "status", "approved_fingerprint", "run", "applied_at",
                  "outcomes", "remaining_drift", "message", "created", "last_updated"]
        brief_fields = ["id", "url", "display", "change", "plan", "status"]


class ChangeTransitionSerializer(BaseModelSerializer):
    user = serializers.CharField(read_only=True)
    fast_computed = {"user": (("user__username",), lambda v, c: v[0])}

    class Meta:
        model = models.ChangeTransition
        fields = ["id", "url", "display", "change", "from_state", "to_state", "user", "reason", "at"]
        brief_fields = ["id", "url", "display", "change", "to_state"]


class ChangeCollisionSerializer(BaseModelSerializer):
    class Meta:
        model = models.ChangeCollision
        fields = ["id", "url", "display", "change_a", "change_b", "shared_ci_ids", "detected_at"]
        brief_fields = ["id", "url", "display", "change_a", "change_b"]


class FreezeSerializer(BaseModelSerializer):
    fast_read = False

    class Meta:
        model = models.Freeze
        fields = ["id", "url", "display", "name", "start", "end", "reason", "services", "tenants", "sites",
                  "blocks_types", "created", "last_updated"]
        brief_fields = ["id", "url", "display", "name", "start", "end"]

    def validate_blocks_types(self, value: Any) -> list[str]:
        if not isinstance(value, list) or any(v not in models.ChangeType.values for v in value):
            known = ", ".join(models.ChangeType.values)
            raise serializers.ValidationError(f"Give a list of change types among {known}.")
        if models.ChangeType.EMERGENCY in value:
            raise serializers.ValidationError("Emergency changes pass every freeze (their reason is recorded).")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start = attrs.get("start", getattr(self.instance, "start", None))
        end = attrs.get("end", getattr(self.instance, "end", None))
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError({"end": ["A freeze ends after it starts."]})
        return attrs


class UnauthorizedChangeSerializer(BaseModelSerializer):
    class Meta:
        model = models.UnauthorizedChange
        fields = ["id", "url", "display", "ci", "source", "source_ref", "detail", "detected_at", "acknowledged",
                  "acknowledged_by", "acknowledged_at", "comment"]
        brief_fields = ["id", "url", "display", "ci", "source", "acknowledged"]


class TransitionRequestSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=models.ChangeState.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class DecisionRequestSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class AttachPlanSerializer(serializers.Serializer):
    plan = serializers.IntegerField(help_text="Id of a stored reconcile plan (GET /api/reconcile/plans/)")


class GateRequestSerializer(serializers.Serializer):
    ci_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False,
                                   default=list, max_length=10_000, help_text="Registry ids of the CIs to change")
    plan = serializers.IntegerField(required=False, allow_null=True, default=None,
                                    help_text="Id of the stored reconcile plan to apply")
    reconciler = serializers.CharField(required=False, allow_blank=True, default="", max_length=50)
    at = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                   help_text="The moment asked about (default now)")


class GateAnswerSerializer(serializers.Serializer):
    allow = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())
    changes = serializers.ListField(child=serializers.IntegerField())
    notes = serializers.ListField(child=serializers.CharField())
