from cmdb.core.domains import DomainConfig


class ChangesConfig(DomainConfig):
    name = "cmdb.changes"
    label = "changes"
    verbose_name = "Change management"
    api_urls = ("changes", ".api.urls")
    web_urls = [("changes/", ".urls")]
    ui_module = ".ui"
    jobs_module = ".jobs"
    metrics_module = ".metrics"
    receivers_module = ".receivers"
    setup_step = ".jobs.ensure_tick_schedule"
