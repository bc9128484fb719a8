from django.urls import path

from cmdb.api.routers import CMDBRouter

from .. import discovery
from . import views

router = CMDBRouter("monitoring")
router.register("exporter-types", views.ExporterTypeViewSet)
router.register("monitors", views.MonitorViewSet)
router.register("incidents", views.IncidentViewSet)
for _source in discovery.SOURCES:
    router.add_link(f"sd/{_source}", "monitoring-sd", source=_source)
router.add_link("alertmanager", "monitoring-alertmanager")
urlpatterns = [
    path("sd/<slug:source>/", views.ServiceDiscoveryView.as_view(), name="monitoring-sd"),
    path("alertmanager/", views.AlertmanagerWebhookView.as_view(), name="monitoring-alertmanager"),
    *router.urls,
]
