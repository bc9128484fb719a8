from cmdb.api.routers import CMDBRouter

from . import views

router = CMDBRouter("k8s")
router.register("clusters", views.ClusterViewSet)
router.register("namespaces", views.NamespaceViewSet)
router.register("nodes", views.NodeViewSet)
router.register("workloads", views.WorkloadViewSet)
router.register("role-mappings", views.RoleMappingViewSet)
router.register("subjects", views.K8sSubjectViewSet)
urlpatterns = router.urls
