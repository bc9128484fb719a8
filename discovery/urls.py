from django.urls import path

from . import views

urlpatterns = [
    path("discovery/reconciliation/<int:ci_id>/", views.reconciliation_view, name="discovery-reconciliation"),
]
