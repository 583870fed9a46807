"""The LRS page, mounted at /school/integrations/lrs/."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.lrs_page, name="xapi_lrs"),
    path("save", views.lrs_save, name="xapi_lrs_save"),
    path("test", views.lrs_test, name="xapi_lrs_test"),
    path("resend-failed", views.resend_failed, name="xapi_resend_failed"),
    path("statements/<uuid:delivery_uuid>/resend", views.resend_one, name="xapi_resend_one"),
]
