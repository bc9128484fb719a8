"""The change log's audit API: erasure (its own permission) and the chain's status for administrators."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cmdb.core import changelog, checkpoints, erasure
from cmdb.core.models import ObjectChange


def _write_token_refused(request: Request) -> bool:
    from cmdb.users.models import Token

    return isinstance(request.auth, Token) and not request.auth.write_enabled


class CanEraseChanges(permissions.BasePermission):
    """``core.erase_objectchange`` (superusers hold it; grant it in the admin to a data-protection role)."""

    message = "You may not erase change records (permission core.erase_objectchange)."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not getattr(user, "is_authenticated", False):
            return False
        if _write_token_refused(request):
            self.message = "This token is read-only."
            return False
        return bool(user.has_perm(erasure.PERMISSION))


class IsSuperuser(permissions.BasePermission):
    message = "Only administrators may see the audit chain's status."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(getattr(user, "is_authenticated", False) and user.is_active and user.is_superuser)


class ErasureRequestSerializer(serializers.Serializer):
    object = serializers.CharField(required=False, max_length=200, help_text="app_label.model:id, e.g. dcim.device:42")
    user = serializers.CharField(required=False, max_length=150, help_text="records a user made, and of their account")
    records = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False,
                                    allow_empty=False, max_length=100_000)
    reason = serializers.CharField(max_length=erasure.MAX_REASON, help_text="the legal reason, kept in the chain")
    dry_run = serializers.BooleanField(default=False)


class ErasureView(APIView):
    """``POST /api/core/audit/erasures/``: blank the personal data of change records and record the erasure.

    Exactly one of ``object``, ``user`` or ``records``, and a ``reason``.  With ``dry_run`` the
    answer lists the records that would be erased and nothing changes.
    """

    permission_classes = [CanEraseChanges]
    serializer_class = ErasureRequestSerializer

    def post(self, request: Request) -> Response:
        form = ErasureRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            target = erasure.resolve_target(obj=data.get("object"), user=data.get("user"), records=data.get("records"))
            result = erasure.changes_erase(target=target, reason=data["reason"], actor=request.user, source="api",
                                           dry_run=data["dry_run"])
        except erasure.ErasureError as exc:
            raise ValidationError({exc.field: [exc.message]}) from exc
        body = {"erasure": result.record.pk if result.record is not None else None, "target": target.text,
                "count": len(result.erased), "erased": result.erased, "dry_run": result.dry_run}
        done = result.record is not None
        return Response(body, status=status.HTTP_201_CREATED if done else status.HTTP_200_OK)


class AuditStatusView(APIView):
    """``GET /api/core/audit/``: the chain head, the latest checkpoint and whether they agree (administrators).

    A handful of indexed reads, not the full walk: the full verification is ``cmdb audit verify``.
    """

    permission_classes = [IsSuperuser]

    def get(self, request: Request) -> Response:
        head_id, head_hash, head_time, head_version, anchor = checkpoints.chain_head()
        log = checkpoints.read_checkpoints()
        latest = log.latest()
        problems = list(log.problems)
        matches = None
        if latest is not None:
            at = ObjectChange.objects.filter(pk=latest.id).values_list("chain_hash", flat=True).first()
            if latest.id > head_id:
                problems.append(f"checkpoint #{latest.n} at id {latest.id} hash {latest.hash}, database ends at "
                                f"id {head_id}: the records after it were deleted")
                matches = False
            elif latest.id and (latest.anchor != anchor or at != latest.hash):
                problems.append(f"checkpoint #{latest.n} at id {latest.id} does not match the database's chain")
                matches = False
            else:
                matches = True
        version, _key = changelog.current_key()
        return Response({
            "head": {"id": head_id, "hash": head_hash, "time": head_time, "key_version": head_version},
            "checkpoint": ({"n": latest.n, "id": latest.id, "hash": latest.hash, "written": latest.written,
                            "key_version": latest.key_version} if latest is not None else None),
            "checkpoint_matches": matches,
            "records_after_checkpoint": (ObjectChange.objects.filter(pk__gt=latest.id).count()
                                         if latest is not None else None),
            "checkpoint_sinks": [f"{s.name} ({s.describe()})" for s in checkpoints.configured_sinks()],
            "checkpoint_interval": int(getattr(settings, "AUDIT_CHECKPOINT_INTERVAL", 0)),
            "current_key_version": version,
            "configured_key_versions": sorted(changelog.audit_keys()),
            "erasures": erasure.erasures_list().count(),
            "problems": problems,
        })
