from django.urls import path

from . import query_views, views

urlpatterns = [
    path("software/compliance/", views.compliance_report, name="software-compliance-page"),
    path("software/which/", query_views.which_page, name="software-which"),
    path("software/installed-on/", query_views.installed_on_page, name="software-installed-on"),
    path("software/end-of-support/", query_views.end_of_support_page, name="software-end-of-support"),
]
