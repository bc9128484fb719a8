from django.urls import path

from . import views

urlpatterns = [path("software/compliance/", views.compliance_report, name="software-compliance-page")]
