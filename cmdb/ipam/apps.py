from django.apps import AppConfig


class IpamConfig(AppConfig):
    name = "cmdb.ipam"
    label = "ipam"
    verbose_name = "IP address management"
