# Placeholder routes: the analytics issue replaces these with the real reports.
from django.http import HttpResponse
from django.urls import path


def _todo(request, *args, **kwargs):
    return HttpResponse("Reports are coming soon.", status=501)


urlpatterns = [
    path("sessions/<uuid:session_uuid>/", _todo, name="session_report"),
    path("students/<uuid:student_uuid>/", _todo, name="student_history"),
    path("school/", _todo, name="school_report"),
    path("my-data/", _todo, name="my_data"),
]
