from django.urls import path

from . import views_student, views_teaching

urlpatterns = [
    path("teach/", views_teaching.teacher_home, name="teacher_home"),
    path("teach/classes/new/", views_teaching.classroom_create, name="classroom_create"),
    path("teach/classes/<uuid:classroom_uuid>/", views_teaching.classroom_detail, name="classroom_detail"),
    path("teach/classes/<uuid:classroom_uuid>/edit/", views_teaching.classroom_edit, name="classroom_edit"),
    path(
        "teach/classes/<uuid:classroom_uuid>/enrol/", views_teaching.classroom_enrol, name="classroom_enrol"
    ),
    path(
        "teach/classes/<uuid:classroom_uuid>/students/<uuid:student_uuid>/unenrol/",
        views_teaching.classroom_unenrol,
        name="classroom_unenrol",
    ),
    path(
        "teach/classes/<uuid:classroom_uuid>/import/",
        views_teaching.classroom_import,
        name="classroom_import",
    ),
    path(
        "teach/classes/<uuid:classroom_uuid>/sessions/new/",
        views_teaching.session_create,
        name="session_create",
    ),
    path("teach/sessions/<uuid:session_uuid>/edit/", views_teaching.session_edit, name="session_edit"),
    path("teach/sessions/<uuid:session_uuid>/start/", views_teaching.session_start, name="session_start"),
    path("teach/sessions/<uuid:session_uuid>/end/", views_teaching.session_end, name="session_end"),
    path("teach/sessions/<uuid:session_uuid>/cancel/", views_teaching.session_cancel, name="session_cancel"),
    path("learn/", views_student.student_home, name="student_home"),
    path("learn/consent/", views_student.consent, name="consent"),
]
