from django.urls import path

from cmdb.api.routers import CMDBRouter

from . import views

router = CMDBRouter("services")
router.register("services", views.ServiceViewSet)
router.register("relationship-types", views.RelationshipTypeViewSet)
router.register("relationships", views.RelationshipViewSet)
router.register("redundancy-groups", views.RedundancyGroupViewSet)
router.register("redundancy-members", views.RedundancyMemberViewSet)
router.add_link("impact", "services-impact")
router.add_link("stack", "services-stack")
urlpatterns = [
    path("impact/", views.ImpactView.as_view(), name="services-impact"),
    path("stack/", views.StackView.as_view(), name="services-stack"),
    *router.urls,
]
