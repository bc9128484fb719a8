from django.apps import AppConfig


class DiscoveryConfig(AppConfig):
    name = "cmdb.discovery"
    label = "discovery"
    verbose_name = "Discovery"

    def ready(self) -> None:
        from cmdb.discovery import precedence

        precedence.connect()
