from django.apps import AppConfig


class DcimConfig(AppConfig):
    name = "cmdb.dcim"
    label = "dcim"
    verbose_name = "Data center"
