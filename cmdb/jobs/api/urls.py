from cmdb.api.routers import CMDBRouter

from . import views

router = CMDBRouter("jobs")
router.register("jobs", views.JobViewSet)
router.register("schedules", views.ScheduleViewSet)
urlpatterns = router.urls
