# Placeholder routes: the teaching pages replace these.
from django.http import HttpResponse
from django.urls import path


def _todo(request, *args, **kwargs):
    return HttpResponse("Not built yet", status=501)


urlpatterns = [
    path("teach/", _todo, name="teacher_home"),
    path("learn/", _todo, name="student_home"),
    path("learn/consent/", _todo, name="consent"),
]
