from cmdb.core.domains import DomainConfig, import_declared


class JobsConfig(DomainConfig):
    name = "cmdb.jobs"
    label = "jobs"
    verbose_name = "Jobs and schedules"
    api_urls = ("jobs", ".api.urls")
    web_urls = [("jobs/", ".urls")]
    ui_module = ".ui"
    jobs_module = ".jobs"
    metrics_module = ".metrics"

    def ready(self) -> None:
        super().ready()
        # Every app declares its job functions' module (``jobs_module``, see cmdb/core/domains.py);
        # importing them here makes web processes and workers know the same set of names.
        import_declared("jobs_module")
