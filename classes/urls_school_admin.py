# Placeholder routes: the school-admin pages replace these.
from django.http import HttpResponse
from django.urls import path


def _todo(request, *args, **kwargs):
    return HttpResponse("Not built yet", status=501)


urlpatterns = [path("", _todo, name="school_admin_home")]
