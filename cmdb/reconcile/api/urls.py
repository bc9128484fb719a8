from cmdb.api.routers import CMDBRouter

from . import views

router = CMDBRouter("reconcile")
router.register("runs", views.ReconcileRunViewSet)
router.register("actions", views.ReconcileActionViewSet)
router.register("drift", views.CIDriftViewSet)
urlpatterns = router.urls
