from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """Prometheus metrics, HTTP service discovery and the Alertmanager webhook (issue 7).

    The app lives in ``cmdb/monitoring``; the non-Python monitoring content
    (alert rules, Grafana dashboards) lives in the top-level ``monitoring/`` folder.
    """

    name = "monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"
