from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "cmdb.core"
    label = "core"
    verbose_name = "CMDB core"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the change-log receivers)
