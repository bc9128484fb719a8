from cmdb.api.filters import BaseFilterSet

from . import models


class ScheduleFilterSet(BaseFilterSet):
    class Meta:
        model = models.Schedule
        fields = ["name", "job_name", "cron", "enabled", "description", "last_tick"]


class JobFilterSet(BaseFilterSet):
    class Meta:
        model = models.Job
        fields = ["name", "status", "user", "schedule", "task_id", "backend", "worker", "attempt", "started",
                  "finished", "duration"]
