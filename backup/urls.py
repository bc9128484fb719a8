from django.urls import path

from . import views

app_name = "backup"
urlpatterns = [
    path("coverage/", views.coverage_page, name="coverage"),
]
