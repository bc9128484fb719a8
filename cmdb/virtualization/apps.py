from django.apps import AppConfig


class VirtualizationConfig(AppConfig):
    name = "cmdb.virtualization"
    label = "virtualization"
    verbose_name = "Virtualization"
