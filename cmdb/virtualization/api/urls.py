from cmdb.api.routers import CMDBRouter

from . import views

router = CMDBRouter("virtualization")
router.register("cluster-types", views.ClusterTypeViewSet)
router.register("cluster-groups", views.ClusterGroupViewSet)
router.register("clusters", views.ClusterViewSet)
router.register("virtual-machines", views.VirtualMachineViewSet)
router.register("interfaces", views.VMInterfaceViewSet)
router.register_empty("virtual-disks")
urlpatterns = router.urls
