from django.apps import AppConfig


class ExtrasConfig(AppConfig):
    name = "cmdb.extras"
    label = "extras"
    verbose_name = "Extras"
