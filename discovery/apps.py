from django.apps import AppConfig


class DiscoveryConfig(AppConfig):
    name = "discovery"
    label = "discovery"
    verbose_name = "Discovery"

    def ready(self) -> None:
        from discovery import precedence

        precedence.connect()
        from django.db.models.signals import post_delete, post_save

        from cmdb.software.models import SoftwareProduct, SoftwareVersion
        from discovery.software import clear_cache_on_change

        for model in (SoftwareProduct, SoftwareVersion):
            post_save.connect(clear_cache_on_change, sender=model, dispatch_uid=f"discovery_cache_{model.__name__}_s")
            post_delete.connect(clear_cache_on_change, sender=model, dispatch_uid=f"discovery_cache_{model.__name__}_d")
