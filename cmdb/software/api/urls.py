from django.urls import path

from cmdb.api.routers import CMDBRouter

from . import views

router = CMDBRouter("software")
router.register("products", views.SoftwareProductViewSet)
router.register("versions", views.SoftwareVersionViewSet)
router.register("installations", views.SoftwareInstallationViewSet)
router.register("licenses", views.LicenseViewSet)
router.register("license-assignments", views.LicenseAssignmentViewSet)
router.add_link("compliance", "software-compliance")
urlpatterns = [path("compliance/", views.ComplianceView.as_view(), name="software-compliance"), *router.urls]
