from django.urls import path

from . import views_school_admin as views

urlpatterns = [
    path("", views.home, name="school_admin_home"),
    path("people/", views.people, name="school_admin_people"),
    path("people/new/", views.person_create, name="school_admin_person_create"),
    path("people/<uuid:user_uuid>/", views.person_edit, name="school_admin_person"),
    path(
        "people/<uuid:user_uuid>/deactivate/", views.person_deactivate, name="school_admin_person_deactivate"
    ),
    path(
        "people/<uuid:user_uuid>/reactivate/", views.person_reactivate, name="school_admin_person_reactivate"
    ),
    path(
        "people/<uuid:user_uuid>/reset-password/",
        views.person_reset_password,
        name="school_admin_person_reset_password",
    ),
    path("classes/", views.classes, name="school_admin_classes"),
    path("settings/", views.school_settings, name="school_admin_settings"),
    path("consent/", views.consent_policy, name="school_admin_consent"),
]
