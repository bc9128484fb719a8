from django.urls import path

from . import views

app_name = "vdi"
urlpatterns = [
    path("capacity/", views.capacity_page, name="capacity"),
]
