from django.urls import path

from . import views

urlpatterns = [path("services/impact/", views.impact_page, name="services-impact-page")]
