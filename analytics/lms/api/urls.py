"""`/api/v1/`: the REST API, its OpenAPI schema and the two documentation pages (assets from the sidecar package)."""

from django.urls import include, path, re_path
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from . import views


@extend_schema(exclude=True)
class SchemaView(SpectacularAPIView):
    """The OpenAPI document (not itself an operation of the API)."""


router = SimpleRouter(use_regex_path=False)
router.register("classes", views.ClassroomViewSet, basename="api-class")
router.register("students", views.StudentViewSet, basename="api-student")
router.register("teachers", views.TeacherViewSet, basename="api-teacher")
router.register("enrolments", views.EnrolmentListViewSet, basename="api-enrolment")
router.register(
    "classes/<uuid:class_uuid>/enrolments", views.ClassEnrolmentViewSet, basename="api-class-enrolment"
)
router.register("sessions", views.SessionViewSet, basename="api-session")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api-me"),
    path(
        "students/<uuid:student_uuid>/history/",
        views.StudentHistoryView.as_view(),
        name="api-student-history",
    ),
    path(
        "students/<uuid:student_uuid>/sessions/<uuid:session_uuid>/series/",
        views.StudentSessionSeriesView.as_view(),
        name="api-student-series",
    ),
    path("samples/", views.SampleExportView.as_view(), name="api-samples"),
    path("", include(router.urls)),
    path("schema/", SchemaView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    re_path(r"^[\s\S]*$", views.not_found),  # not `.*`: a path may hold an encoded newline
]
