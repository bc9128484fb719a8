from django.urls import include, path

from . import views

app_name = "changes"

urlpatterns = [
    path("", views.change_list, name="change_list"),
    path("new/", views.change_new, name="change_new"),
    path("<int:pk>/", views.change_detail, name="change_detail"),
    path("<int:pk>/transition/", views.change_transition, name="change_transition"),
    path("<int:pk>/decide/", views.change_decide, name="change_decide"),
    path("<int:pk>/apply/", views.change_apply, name="change_apply"),
    path("", include("cmdb.changes.calendar_urls")),
]
