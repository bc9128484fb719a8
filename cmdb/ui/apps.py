from django.apps import AppConfig


class UiConfig(AppConfig):
    name = "cmdb.ui"
    label = "ui"
    verbose_name = "Web UI"

    def ready(self) -> None:
        # Pages of the core apps, then any app's own ``ui`` module.
        from . import builtin, registry

        builtin.register_all()
        registry.autodiscover()
