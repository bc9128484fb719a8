from django.urls import path

from cmdb.api.routers import CMDBRouter

from . import views

router = CMDBRouter("reconcile")
router.register("runs", views.ReconcileRunViewSet)
router.register("plans", views.PlanViewSet)
router.register("actions", views.PlanItemViewSet)
router.register("drift", views.CIDriftViewSet)
router.add_link("reconcilers", "reconcile-reconcilers")
urlpatterns = [path("reconcilers/", views.ReconcilerListView.as_view(), name="reconcile-reconcilers"), *router.urls]
