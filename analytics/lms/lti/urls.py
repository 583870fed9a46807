"""LTI endpoints, mounted at /lti/. The LMS calls the registration's URLs; people use the launch and class ones."""

from django.urls import path

from . import views

urlpatterns = [
    path("<uuid:registration_uuid>/login/", views.login, name="lti_login"),
    path("<uuid:registration_uuid>/launch/", views.launch, name="lti_launch"),
    path("<uuid:registration_uuid>/jwks.json", views.jwks, name="lti_jwks"),
    path("<uuid:registration_uuid>/canvas.json", views.canvas_config, name="lti_canvas_config"),
    path("launches/<uuid:launch_uuid>/enter/", views.enter, name="lti_enter"),
    path("launches/<uuid:launch_uuid>/lesson/", views.lesson, name="lti_lesson"),
    path("launches/<uuid:launch_uuid>/deep-link/", views.deep_link, name="lti_deep_link"),
    path("classes/<uuid:classroom_uuid>/roster-sync", views.roster_sync, name="lti_roster_sync"),
    path("classes/<uuid:classroom_uuid>/grades", views.grades_setting, name="lti_grades_setting"),
    path("sessions/<uuid:session_uuid>/attendance", views.post_attendance, name="lti_post_attendance"),
]
