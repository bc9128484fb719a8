from cmdb.core.domains import DomainConfig


class DcimConfig(DomainConfig):
    name = "cmdb.dcim"
    label = "dcim"
    verbose_name = "Data center"
    api_urls = ("dcim", ".api.urls")
    ui_module = ".ui"
    generic_admin = True
