from cmdb.api.routers import CMDBRouter
from cmdb.core.api.views import ObjectChangeViewSet

from . import views

router = CMDBRouter("extras")
router.register("tags", views.TagViewSet)
router.register("custom-fields", views.CustomFieldViewSet)
router.register("journal-entries", views.JournalEntryViewSet)
router.register("config-contexts", views.ConfigContextViewSet)
# NetBox 3 served the change log here; NetBox 4 under core. Both work.
router.register("object-changes", ObjectChangeViewSet, basename="extras-object-changes")
for empty in ("export-templates", "saved-filters", "webhooks"):
    router.register_empty(empty)
urlpatterns = router.urls
