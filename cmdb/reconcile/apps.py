from django.apps import AppConfig


class ReconcileConfig(AppConfig):
    name = "cmdb.reconcile"
    label = "reconcile"
    verbose_name = "Reconcilers"
