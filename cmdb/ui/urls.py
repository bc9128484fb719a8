from django.urls import path, register_converter

from .registry import all_views
from .views import auth, dashboard, goto, objects, search, tokens


class AppLabelConverter:
    """Only app labels with registered pages match, so /api/unknown/ stays the API's JSON 404."""

    regex = "[a-z][a-z0-9_]*"

    def to_python(self, value: str) -> str:
        if value not in {v.app for v in all_views()}:
            raise ValueError(value)
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(AppLabelConverter, "uiapp")

app_name = "ui"

_obj = "<uiapp:app>/<slug:slug>/"

urlpatterns = [
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("login/", auth.login_view, name="login"),
    path("login/verify/", auth.login_verify, name="login_verify"),
    path("logout/", auth.logout_view, name="logout"),
    path("user/security/", auth.mfa_view, name="mfa"),
    path("user/tokens/", tokens.tokens_view, name="tokens"),
    path("search/", search.search_view, name="search"),
    path("ci/<int:ci_id>/", goto.ci_goto, name="ci"),
    path(_obj, objects.object_list, name="list"),
    path(f"{_obj}add/", objects.object_edit, name="add"),
    path(f"{_obj}import/", objects.object_import, name="import"),
    path(f"{_obj}export/", objects.object_export, name="export"),
    path(f"{_obj}edit/", objects.bulk_edit, name="bulk_edit"),
    path(f"{_obj}delete/", objects.bulk_delete, name="bulk_delete"),
    path(f"{_obj}<int:pk>/", objects.object_detail, name="detail"),
    path(f"{_obj}<int:pk>/edit/", objects.object_edit, name="edit"),
    path(f"{_obj}<int:pk>/delete/", objects.object_delete, name="delete"),
    path(f"{_obj}<int:pk>/journal/", objects.journal_add, name="journal_add"),
]
