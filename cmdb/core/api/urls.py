from django.urls import path

from cmdb.api.routers import CMDBRouter

from . import views

router = CMDBRouter("core")
router.register("object-changes", views.ObjectChangeViewSet)
router.register("configuration-items", views.ConfigurationItemViewSet)
urlpatterns = [path("search/", views.SearchView.as_view(), name="core-search"), *router.urls]
