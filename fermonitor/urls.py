from django.contrib import admin
from django.urls import include, path

from analytics.live.health import readyz
from classes.admin_site import site as admin_site

urlpatterns = [
    path("", include("classes.urls")),
    path("", include("classes.urls_teaching")),
    path("school/integrations/", include("analytics.lms.urls")),
    path("school/", include("classes.urls_school_admin")),
    path("live/", include("analytics.live.urls")),
    path("reports/", include("analytics.urls")),
    path("api/v1/", include("analytics.lms.api.urls")),
    path("lti/", include("analytics.lms.lti.urls")),
    path("admin/", admin_site.urls),
    path("readyz", readyz, name="readyz"),
]

admin.site = admin_site

# A database outage answers 503 with Retry-After, anything else 500; neither page touches the database.
handler500 = "classes.errors.server_error"
