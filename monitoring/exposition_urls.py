"""``/metrics`` at the site's root, where Prometheus looks by default."""

from django.urls import path

from . import views

urlpatterns = [path("metrics", views.metrics, name="metrics")]
