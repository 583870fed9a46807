from django.contrib import admin
from django.urls import include, path

from classes.admin_site import site as admin_site

urlpatterns = [
    path("", include("classes.urls")),
    path("", include("classes.urls_teaching")),
    path("school/integrations/", include("analytics.api.ui_urls")),
    path("school/", include("classes.urls_school_admin")),
    path("live/", include("classes.urls_live")),
    path("reports/", include("analytics.urls")),
    path("api/v1/", include("analytics.api.urls")),
    path("admin/", admin_site.urls),
]

admin.site = admin_site
