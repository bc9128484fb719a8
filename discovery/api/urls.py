from django.urls import path

from cmdb.api.routers import CMDBRouter

from . import views

router = CMDBRouter("discovery")
router.register("hosts", views.HostViewSet)
router.register("attribute-sources", views.AttributeSourceViewSet)
router.register("ingests", views.IngestRecordViewSet)
router.add_link("reports", "discovery-reports")
urlpatterns = [path("reports/", views.ReportView.as_view(), name="discovery-reports"), *router.urls]
