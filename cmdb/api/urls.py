from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerView

from .views import APIRootView, CachedSchemaView, StatusView

urlpatterns = [
    path("", APIRootView.as_view(), name="api-root"),
    path("status/", StatusView.as_view(), name="api-status"),
    path("schema/", CachedSchemaView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("core/", include("cmdb.core.api.urls")),
    path("dcim/", include("cmdb.dcim.api.urls")),
    path("extras/", include("cmdb.extras.api.urls")),
    path("ipam/", include("cmdb.ipam.api.urls")),
    path("jobs/", include("cmdb.jobs.api.urls")),
    path("reconcile/", include("cmdb.reconcile.api.urls")),
    path("ansible/", include("playbooks.api.urls")),
    path("monitoring/", include("monitoring.api.urls")),
    path("tenancy/", include("cmdb.tenancy.api.urls")),
    path("users/", include("cmdb.users.api.urls")),
    path("virtualization/", include("cmdb.virtualization.api.urls")),
    path("software/", include("cmdb.software.api.urls")),
    path("services/", include("cmdb.services.api.urls")),
    path("discovery/", include("discovery.api.urls")),
]
