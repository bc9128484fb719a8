from django.urls import path

from cmdb.api.routers import CMDBRouter

from . import views

router = CMDBRouter("changes")
router.register("changes", views.ChangeViewSet)
router.register("freezes", views.FreezeViewSet)
router.register("templates", views.ChangeTemplateViewSet)
router.register("approval-groups", views.ApprovalGroupViewSet)
router.register("approvals", views.ApprovalViewSet)
router.register("change-plans", views.ChangePlanViewSet)
router.register("transitions", views.ChangeTransitionViewSet)
router.register("collisions", views.ChangeCollisionViewSet)
router.register("unauthorized", views.UnauthorizedChangeViewSet)
router.add_link("gate", "changes-gate")
urlpatterns = [path("gate/", views.GateView.as_view(), name="changes-gate"), *router.urls]
