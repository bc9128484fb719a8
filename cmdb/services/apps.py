from django.apps import AppConfig


class ServicesConfig(AppConfig):
    name = "cmdb.services"
    label = "services"
    verbose_name = "Services, relationships and impact"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (graph cache invalidation)
