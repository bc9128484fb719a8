from cmdb.core.domains import DomainConfig


class ServicesConfig(DomainConfig):
    name = "cmdb.services"
    label = "services"
    verbose_name = "Services, relationships and impact"
    api_urls = ("services", ".api.urls")
    web_urls = [("", ".urls")]
    ui_module = ".ui"
    receivers_module = ".signals"  # graph cache invalidation
