from typing import Any

from rest_framework import serializers

from cmdb.api.serializers import BaseModelSerializer

from .. import models
from ..registry import job_kwargs_errors, kwargs_error_text, registered_jobs
from ..scheduler import next_tick


def _next_run(values: list[Any], ctx: Any) -> str | None:
    from django.utils import timezone

    cron, enabled = values
    return next_tick(cron, timezone.now()).isoformat() if enabled else None


class ScheduleSerializer(BaseModelSerializer):
    next_run = serializers.DateTimeField(read_only=True)
    last_tick = serializers.DateTimeField(read_only=True)
    fast_computed = {"next_run": (("cron", "enabled"), _next_run)}

    class Meta:
        model = models.Schedule
        fields = ["id", "url", "display", "name", "job_name", "kwargs", "cron", "enabled", "description",
                  "last_tick", "next_run", "created", "last_updated"]
        brief_fields = ["id", "url", "display", "name", "job_name", "cron", "enabled"]

    def validate_job_name(self, value: str) -> str:
        if value not in registered_jobs():
            raise serializers.ValidationError(f"Unknown job; known: {', '.join(sorted(registered_jobs()))}.")
        return value


class JobSerializer(BaseModelSerializer):
    user = serializers.CharField(read_only=True)
    fast_computed = {"user": (("user__username",), lambda v, c: v[0])}

    class Meta:
        model = models.Job
        fields = ["id", "url", "display", "name", "kwargs", "status", "user", "tenant", "schedule", "task_id",
                  "backend", "worker", "attempt", "max_attempts", "heartbeat", "lease_expires", "created", "started",
                  "finished", "duration", "log", "result", "error"]
        read_only_fields = ["status", "tenant", "schedule", "task_id", "backend", "worker", "attempt", "max_attempts",
                            "heartbeat", "lease_expires", "started", "finished", "duration", "log", "result", "error"]
        brief_fields = ["id", "url", "display", "name", "status"]

    def validate_name(self, value: str) -> str:
        if value not in registered_jobs():
            raise serializers.ValidationError(f"Unknown job; known: {', '.join(sorted(registered_jobs()))}.")
        return value

    def validate_kwargs(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Give the job's keyword arguments as a JSON object.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        errors = job_kwargs_errors(attrs.get("name", ""), attrs.get("kwargs") or {})
        if errors:
            raise serializers.ValidationError({"kwargs": kwargs_error_text(errors)})
        return attrs
