from django.urls import path

from . import views, views_recordings

urlpatterns = [
    path("<uuid:session_uuid>/join/", views.join, name="live_join"),
    path("<uuid:session_uuid>/dashboard/", views.dashboard, name="live_dashboard"),
    path("<uuid:session_uuid>/start/", views.start, name="live_start"),
    path("<uuid:session_uuid>/end/", views.end, name="live_end"),
    path("classes/<uuid:classroom_uuid>/recordings/", views_recordings.upload, name="recording_upload"),
    path("recordings/<uuid:job_uuid>/", views_recordings.job_page, name="recording_job"),
    path("recordings/<uuid:job_uuid>/status.json", views_recordings.job_status, name="recording_status"),
    path("recordings/<uuid:job_uuid>/cancel/", views_recordings.job_cancel, name="recording_cancel"),
]
