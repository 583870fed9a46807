"""School admin pages for API keys, webhooks and LTI registrations, mounted at /school/integrations/."""

from django.urls import include, path

from . import views as ui_views

urlpatterns = [
    path("", ui_views.integrations_home, name="api_integrations"),
    path("keys/new", ui_views.key_create, name="api_key_create"),
    path("keys/<uuid:key_uuid>/revoke", ui_views.key_revoke, name="api_key_revoke"),
    path("webhooks/new", ui_views.webhook_create, name="api_webhook_create"),
    path("webhooks/<uuid:webhook_uuid>/", ui_views.webhook_detail, name="api_webhook"),
    path("webhooks/<uuid:webhook_uuid>/edit", ui_views.webhook_update, name="api_webhook_update"),
    path(
        "webhooks/<uuid:webhook_uuid>/<str:action>",
        ui_views.webhook_action,
        name="api_webhook_action",
    ),
    path("deliveries/<uuid:delivery_uuid>/retry", ui_views.delivery_retry, name="api_delivery_retry"),
    path("lti/", include("analytics.lms.lti.urls_admin")),
    path("lrs/", include("analytics.lms.xapi.urls")),
]
