from django.urls import path

from cmdb.api.routers import CMDBRouter

from .views import InventoryView

router = CMDBRouter("ansible")  # no model endpoints: the router gives the app its root listing
router.add_link("inventory", "ansible-inventory")
urlpatterns = [path("inventory/", InventoryView.as_view(), name="ansible-inventory"), *router.urls]
