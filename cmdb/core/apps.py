from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "cmdb.core"
    label = "core"
    verbose_name = "CMDB core"

    def ready(self) -> None:
        from . import checkpoints, scope, signals  # noqa: F401  (change-log receivers; the audit sinks' and scope checks)
