from django.urls import path

from .views import auth, dashboard

app_name = "ui"

urlpatterns = [
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("login/", auth.login_view, name="login"),
    path("login/verify/", auth.login_verify, name="login_verify"),
    path("logout/", auth.logout_view, name="logout"),
    path("user/security/", auth.mfa_view, name="mfa"),
    path("search/", dashboard.dashboard, name="search"),
]
