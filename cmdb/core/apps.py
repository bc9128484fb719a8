from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "cmdb.core"
    label = "core"
    verbose_name = "CMDB core"

    def ready(self) -> None:
        from . import scope, signals  # noqa: F401  (the scope check; the change-log receivers)
