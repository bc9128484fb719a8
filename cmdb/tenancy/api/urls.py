from cmdb.api.routers import CMDBRouter

from . import views

router = CMDBRouter("tenancy")
router.register("tenant-groups", views.TenantGroupViewSet)
router.register("tenants", views.TenantViewSet)
router.register("contact-roles", views.ContactRoleViewSet)
router.register("contacts", views.ContactViewSet)
router.register("contact-assignments", views.ContactAssignmentViewSet)
router.register_empty("contact-groups")
urlpatterns = router.urls
