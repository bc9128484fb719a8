from cmdb.core.domains import DemoStep, DomainConfig


class DiscoveryConfig(DomainConfig):
    """Discovery's server side: report ingestion, identification, precedence, staleness.

    The Django-free agents that produce the reports live in ``discovery.agents``.
    """

    name = "discovery"
    label = "discovery"
    verbose_name = "Discovery"
    api_urls = ("discovery", ".api.urls")
    web_urls = [("", ".urls")]
    ui_module = ".ui"
    jobs_module = ".jobs"
    metrics_module = ".metrics"
    receivers_module = ".receivers"
    demo_step = DemoStep(".demo.extend", stage="extend")
