from cmdb.core.domains import DomainConfig


class ReconcileConfig(DomainConfig):
    name = "cmdb.reconcile"
    label = "reconcile"
    verbose_name = "Reconcilers"
    api_urls = ("reconcile", ".api.urls")
    web_urls = [("reconcile/", ".urls")]
    ui_module = ".ui"
    jobs_module = ".jobs"
    metrics_module = ".metrics"
