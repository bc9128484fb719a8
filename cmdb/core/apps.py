from cmdb.core.domains import DomainConfig


class CoreConfig(DomainConfig):
    name = "cmdb.core"
    label = "core"
    verbose_name = "CMDB core"
    api_urls = ("core", ".api.urls")
    ui_module = ".ui"

    def ready(self) -> None:
        super().ready()
        from . import checkpoints, scope, signals  # noqa: F401  (change-log receivers; the audit sinks' and scope checks)
