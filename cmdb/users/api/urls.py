from cmdb.api.routers import CMDBRouter

from . import views

router = CMDBRouter("users")
router.register("users", views.UserViewSet)
router.register("tokens", views.TokenViewSet)
router.register("permissions", views.ObjectPermissionViewSet)
router.register_empty("groups")
urlpatterns = router.urls
