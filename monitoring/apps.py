from cmdb.core.domains import DemoStep, DomainConfig


class MonitoringConfig(DomainConfig):
    """Prometheus exposition (/metrics), HTTP service discovery, the Alertmanager webhook and incidents.

    The non-Python monitoring content (alert rules, Grafana dashboards) sits beside the code, in
    ``monitoring/rules`` and ``monitoring/dashboards``.  The metrics registry every app contributes
    to is the core's (:mod:`cmdb.core.metrics`); this app renders it.
    """

    name = "monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"
    api_urls = ("monitoring", ".api.urls")
    web_urls = [("", ".exposition_urls"), ("monitoring/", ".urls")]
    ui_module = ".ui"
    metrics_module = ".metrics"
    receivers_module = ".receivers"  # answers hooks (cmdb.core.hooks)
    demo_step = DemoStep(".demo.demo_step", stage="plan")
