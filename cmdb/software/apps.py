from django.apps import AppConfig


class SoftwareConfig(AppConfig):
    name = "cmdb.software"
    label = "software"
    verbose_name = "Software and licenses"
