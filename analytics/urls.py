from django.urls import path

from . import views

urlpatterns = [
    path("sessions/<uuid:session_uuid>/", views.session_report, name="session_report"),
    path("sessions/<uuid:session_uuid>/data.json", views.session_report_data, name="session_report_data"),
    path("sessions/<uuid:session_uuid>/export.csv", views.session_report_csv, name="session_report_csv"),
    path(
        "sessions/<uuid:session_uuid>/participants/<uuid:participant_uuid>/assign/",
        views.assign_participant,
        name="assign_participant",
    ),
    path("students/<uuid:student_uuid>/", views.student_history, name="student_history"),
    path("students/<uuid:student_uuid>/data.json", views.student_history_data, name="student_history_data"),
    path("students/<uuid:student_uuid>/export.csv", views.student_history_csv, name="student_history_csv"),
    path(
        "students/<uuid:student_uuid>/sessions/<uuid:session_uuid>/",
        views.student_session,
        name="student_session",
    ),
    path(
        "students/<uuid:student_uuid>/sessions/<uuid:session_uuid>/data.json",
        views.student_session_data,
        name="student_session_data",
    ),
    path("school/", views.school_report, name="school_report"),
    path("school/data.json", views.school_report_data, name="school_report_data"),
    path("school/export.csv", views.school_report_csv, name="school_report_csv"),
    path("my-data/", views.my_data, name="my_data"),
]
