from cmdb.api.routers import CMDBRouter

from . import views

router = CMDBRouter("ipam")
router.register("prefixes", views.PrefixViewSet)
router.register("ip-addresses", views.IPAddressViewSet)
for empty in ("services", "vrfs", "vlans", "aggregates", "ip-ranges"):
    router.register_empty(empty)
urlpatterns = router.urls
