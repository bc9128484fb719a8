from django.urls import path

from cmdb.api.routers import CMDBRouter

from . import views

router = CMDBRouter("backup")
router.register("repositories", views.RepositoryViewSet)
router.register("policies", views.PolicyViewSet)
router.register("policy-attachments", views.PolicyAttachmentViewSet)
router.register("snapshots", views.SnapshotViewSet)
router.register("runs", views.RunViewSet)
router.register("restore-tests", views.RestoreTestViewSet)
router.add_link("coverage", "backup-coverage")
urlpatterns = [path("coverage/", views.CoverageView.as_view(), name="backup-coverage"), *router.urls]
