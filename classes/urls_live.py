from django.urls import path

from . import views_live as views

urlpatterns = [
    path("<uuid:session_uuid>/join/", views.join, name="live_join"),
    path("<uuid:session_uuid>/dashboard/", views.dashboard, name="live_dashboard"),
    path("<uuid:session_uuid>/start/", views.start, name="live_start"),
    path("<uuid:session_uuid>/end/", views.end, name="live_end"),
]
