from django.apps import AppConfig


class UiConfig(AppConfig):
    name = "cmdb.ui"
    label = "ui"
    verbose_name = "Web UI"

    def ready(self) -> None:
        # Register the core models' pages once every model class exists.
        from . import models_registered  # noqa: F401
