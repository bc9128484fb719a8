from django.urls import path

from cmdb.api.routers import CMDBRouter

from . import audit, views

router = CMDBRouter("core")
router.register("object-changes", views.ObjectChangeViewSet)
router.register("configuration-items", views.ConfigurationItemViewSet)
router.add_link("search", "core-search")
router.add_link("audit", "core-audit")
router.add_link("audit/erasures", "core-audit-erasures")
urlpatterns = [
    path("search/", views.SearchView.as_view(), name="core-search"),
    path("audit/", audit.AuditStatusView.as_view(), name="core-audit"),
    path("audit/erasures/", audit.ErasureView.as_view(), name="core-audit-erasures"),
    *router.urls,
]
