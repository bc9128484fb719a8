from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "cmdb.tenancy"
    label = "tenancy"
    verbose_name = "Tenancy"
