from django.urls import path

from cmdb.api.routers import CMDBRouter

from . import views

router = CMDBRouter("vdi")
router.register("gpu-profiles", views.GpuProfileViewSet)
router.register("host-capacities", views.HostCapacityViewSet)
router.register("cluster-policies", views.ClusterPolicyViewSet)
router.register("pools", views.PoolViewSet)
router.register("schedule-rules", views.PoolScheduleRuleViewSet)
router.register("timetables", views.TimetableSourceViewSet)
router.register("desktops", views.DesktopViewSet)
router.register("licence-policies", views.LicencePolicyViewSet)
router.add_link("capacity", "vdi-capacity")
urlpatterns = [
    path("capacity/", views.CapacityView.as_view(), name="vdi-capacity"),
    *router.urls,
]
