from cmdb.core.domains import DomainConfig


class VirtualizationConfig(DomainConfig):
    name = "cmdb.virtualization"
    label = "virtualization"
    verbose_name = "Virtualization"
    api_urls = ("virtualization", ".api.urls")
    ui_module = ".ui"
    generic_admin = True
