# Placeholder routes: the live-session issue replaces these with the join page and the teacher dashboard.
from django.urls import path

from . import views_live_placeholder as views

urlpatterns = [
    path("<uuid:session_uuid>/join/", views.join, name="live_join"),
    path("<uuid:session_uuid>/dashboard/", views.dashboard, name="live_dashboard"),
]
