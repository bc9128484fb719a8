from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class JobsConfig(AppConfig):
    name = "cmdb.jobs"
    label = "jobs"
    verbose_name = "Jobs and schedules"

    def ready(self) -> None:
        # Every app may declare job functions in its own ``jobs`` module (see cmdb/jobs/registry.py);
        # importing them here makes web processes and workers know the same set of names.
        autodiscover_modules("jobs")
