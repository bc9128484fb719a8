from cmdb.api.routers import CMDBRouter

from . import views

router = CMDBRouter("dcim")
router.register("sites", views.SiteViewSet)
router.register("locations", views.LocationViewSet)
router.register("racks", views.RackViewSet)
router.register("manufacturers", views.ManufacturerViewSet)
router.register("device-types", views.DeviceTypeViewSet)
router.register("interface-templates", views.InterfaceTemplateViewSet)
router.register("device-roles", views.DeviceRoleViewSet)
router.register("platforms", views.PlatformViewSet)
router.register("devices", views.DeviceViewSet)
router.register("interfaces", views.InterfaceViewSet)
for empty in ("regions", "site-groups", "rack-roles", "virtual-chassis", "cables"):
    router.register_empty(empty)
urlpatterns = router.urls
