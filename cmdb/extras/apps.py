from cmdb.core.domains import DomainConfig


class ExtrasConfig(DomainConfig):
    name = "cmdb.extras"
    label = "extras"
    verbose_name = "Extras"
    api_urls = ("extras", ".api.urls")
    ui_module = ".ui"
    generic_admin = True
