from cmdb.core.domains import DomainConfig


class TenancyConfig(DomainConfig):
    name = "cmdb.tenancy"
    label = "tenancy"
    verbose_name = "Tenancy"
    api_urls = ("tenancy", ".api.urls")
    ui_module = ".ui"
    generic_admin = True
