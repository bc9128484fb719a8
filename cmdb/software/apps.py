from cmdb.core.domains import DomainConfig


class SoftwareConfig(DomainConfig):
    name = "cmdb.software"
    label = "software"
    verbose_name = "Software and licenses"
    api_urls = ("software", ".api.urls")
    web_urls = [("", ".urls")]
    ui_module = ".ui"
    metrics_module = ".metrics"
