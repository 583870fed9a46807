"""The school admin's LTI pages, mounted at /school/integrations/lti/."""

from django.urls import path

from . import integrations

urlpatterns = [
    path("registrations/new", integrations.registration_create, name="lti_registration_create"),
    path(
        "registrations/<uuid:registration_uuid>/", integrations.registration_detail, name="lti_registration"
    ),
    path(
        "registrations/<uuid:registration_uuid>/delete",
        integrations.registration_delete,
        name="lti_registration_delete",
    ),
    path("keys/rotate", integrations.key_rotate, name="lti_key_rotate"),
]
