from cmdb.core.domains import DomainConfig


class IpamConfig(DomainConfig):
    name = "cmdb.ipam"
    label = "ipam"
    verbose_name = "IP address management"
    api_urls = ("ipam", ".api.urls")
    ui_module = ".ui"
    generic_admin = True
