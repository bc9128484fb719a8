from django.urls import path

from . import views

app_name = "jobs"

urlpatterns = [
    path("", views.job_list, name="job_list"),
    path("<int:pk>/", views.job_detail, name="job_detail"),
    path("schedules/", views.schedule_list, name="schedule_list"),
    path("schedules/add/", views.schedule_edit, name="schedule_add"),
    path("schedules/<int:pk>/", views.schedule_edit, name="schedule_edit"),
]
