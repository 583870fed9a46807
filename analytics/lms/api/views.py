"""The REST API (`/api/v1/`). Views stay thin: access in `access.py`, changes in the services and `roster.py`,
report data in `summaries.py`.

Every request runs inside its caller's school scope (entered here, right after authentication: an API key only
names its school once DRF has authenticated it), so every query is limited to that school.
"""

import hashlib
import json
from contextlib import ExitStack

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.access import get_student_for_user, get_student_session_for_user
from analytics.models import EmotionSample
from classes import services
from classes.models import Classroom, Enrolment, LiveSession, Role, SessionStatus, User
from classes.tenancy import school_scope

from . import access, examples, filters, roster, summaries
from . import serializers as s
from .authentication import ApiKeyAuthentication
from .errors import Conflict, api_exception_handler, error_body
from .permissions import KeyScopeAllows, SchoolMember, SchoolWideWrites, StudentsReadOnly, is_school_wide
from .schema import ApiAutoSchema
from .throttling import ApiKeyRateThrottle

ex = examples


class StrictPageSize:
    """`page_size` must be a whole number in [1, max_page_size]: a typo is an error, not a silent default."""

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
            elif parameter["name"] == getattr(self, "page_query_param", None):
                parameter["schema"]["minimum"] = 1
        return parameters

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: [f"Give a whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def paginate_queryset(self, queryset, request, view=None):
        # DRF reads `?page=` as page 1; the schema says a whole number, so a blank page is an error too.
        name = getattr(self, "page_query_param", None)  # cursor pagination has none
        raw = request.query_params.get(name) if name else None
        if raw is not None and not raw.strip():
            raise ValidationError({name: ["Give a page number (1 or more)."]})
        return super().paginate_queryset(queryset, request, view)


class StandardPagination(StrictPageSize, PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter reads an empty value as "no filter"; an LMS sending `?classroom=` has a bug worth hearing
    about, so blank values of known filters are an error."""

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            blank = {
                name: ["This filter may not be blank."]
                for name in filterset.filters
                if name in request.query_params
                and not any(v.strip() for v in request.query_params.getlist(name))
            }
            if blank:
                raise ValidationError(blank)
        return filterset


class SamplesCursorPagination(StrictPageSize, CursorPagination):
    ordering = ("captured_at", "id")
    page_size = 500
    page_size_query_param = "page_size"
    max_page_size = 5000


class ApiView(APIView):
    """What every endpoint shares: authentication, the school scope, permissions, limits, JSON, errors."""

    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [SchoolMember, KeyScopeAllows, StudentsReadOnly]
    throttle_classes = [ApiKeyRateThrottle]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    schema = ApiAutoSchema()

    def get_exception_handler(self):
        return api_exception_handler

    def dispatch(self, request, *args, **kwargs):
        with ExitStack() as stack:
            self._scope_stack = stack
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        self.perform_authentication(request)
        school_id = getattr(request.user, "school_id", None)
        if school_id is not None:
            self._scope_stack.enter_context(school_scope(school_id))
        super().initial(request, *args, **kwargs)


class ApiViewSet(ApiView, viewsets.GenericViewSet):
    pagination_class = StandardPagination
    filter_backends = [StrictFilterBackend, OrderingFilter]
    lookup_value_converter = "uuid"
    model = None  # for the schema generator, which looks at a queryset outside any request

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.with_scopes_disabled().none()
        return self.visible_queryset()


def _uuid_path(*names: str):
    return extend_schema(
        parameters=[OpenApiParameter(name, OpenApiTypes.UUID, OpenApiParameter.PATH) for name in names]
    )


def _require_school_wide(request, what: str):
    if not is_school_wide(request.user):
        raise PermissionDenied(f"Only school admins (or read-write API keys) may {what}.")


# --- school -------------------------------------------------------------------------------------------------


class MeView(ApiView):
    @extend_schema(
        tags=["school"],
        summary="The caller and its school",
        description="Which school the key (or logged-in user) acts for: a cheap way to test a key.",
        responses=s.MeSerializer,
        examples=[ex.ok("An API key", ex.ME)],
    )
    def get(self, request):
        user = request.user
        key = getattr(user, "key", None)
        data = {
            "school": user.school,
            "key": {"name": key.name, "prefix": key.prefix, "scope": key.scope} if key else None,
            "user": None if key else {"uuid": user.uuid, "username": user.username, "role": user.role},
        }
        return Response(s.MeSerializer(data).data)


# --- classes ------------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List classes",
        description="Admins and keys: every class of the school; teachers: theirs; students: their own.",
        examples=[ex.ok("Classes", ex.CLASS)],
    ),
    create=extend_schema(
        summary="Create a class",
        examples=[ex.req("New class", ex.CLASS_WRITE), ex.ok("Created", ex.CLASS, 201)],
    ),
    retrieve=extend_schema(summary="Get a class", examples=[ex.ok("A class", ex.CLASS)]),
    update=extend_schema(
        summary="Replace a class", examples=[ex.req("Class", ex.CLASS_WRITE), ex.ok("Updated", ex.CLASS)]
    ),
    partial_update=extend_schema(
        summary="Change some fields of a class",
        examples=[
            ex.req("Rename", {"name": "Physics 1B"}),
            ex.ok("Updated", {**ex.CLASS, "name": "Physics 1B"}),
        ],
    ),
    destroy=extend_schema(
        summary="Delete a class",
        description="Deletes the class with its sessions and their data. Refused (409) while a session is live.",
    ),
)
@extend_schema(tags=["classes"])
class ClassroomViewSet(
    ApiViewSet,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
):
    serializer_class = s.ClassroomSerializer
    filterset_class = filters.ClassroomFilter
    ordering_fields = ["name", "created_at", "lms_id"]
    ordering = ["name"]
    lookup_field = "uuid"
    lookup_url_kwarg = "class_uuid"

    model = Classroom

    def visible_queryset(self):
        return (
            access.visible_classrooms(self.request.user)
            .select_related("teacher")
            .annotate(student_count=Count("enrolments", distinct=True))
        )

    def get_object(self):
        manage = self.request.method not in ("GET", "HEAD", "OPTIONS")
        classroom = access.get_classroom(self.request.user, self.kwargs["class_uuid"], manage=manage)
        classroom.student_count = classroom.enrolments.count()
        return classroom

    def create(self, request, *args, **kwargs):
        _require_school_wide(request, "create classes")
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        classroom = serializer.save(school=self.request.user.school)
        classroom.student_count = 0

    def perform_update(self, serializer):
        new_teacher = serializer.validated_data.get("teacher")
        if (
            new_teacher
            and new_teacher != serializer.instance.teacher
            and not is_school_wide(self.request.user)
        ):
            raise PermissionDenied("Only school admins may give a class to another teacher.")
        serializer.save()

    def destroy(self, request, *args, **kwargs):
        _require_school_wide(request, "delete classes")
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        if instance.sessions.filter(status=SessionStatus.LIVE).exists():
            raise Conflict("A session of this class is live; end it before deleting the class.")
        instance.delete()

    @extend_schema(
        summary="Sync a class roster",
        description=(
            "Upserts the listed students by `lms_id` (creating, updating or linking accounts) and makes them exactly "
            "the class's enrolled students: students not listed are unenrolled (their accounts and history stay). "
            "Idempotent: sending the same roster again changes nothing. All-or-nothing: one bad item and nothing "
            "is written."
        ),
        request=s.RosterRequestSerializer,
        responses=s.RosterResponseSerializer,
        examples=[ex.req("Roster", ex.ROSTER_REQUEST), ex.ok("Synced", ex.ROSTER_RESPONSE)],
    )
    @action(detail=True, methods=["put"], url_path="roster")
    def roster(self, request, class_uuid=None):
        _require_school_wide(request, "sync rosters")
        classroom = access.get_classroom(request.user, class_uuid, manage=True)
        body = s.RosterRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = roster.sync_roster(classroom, body.validated_data["students"])
        return Response(s.RosterResponseSerializer(result).data)


# --- people -------------------------------------------------------------------------------------------------


class PersonViewSet(
    ApiViewSet,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
):
    """Students or teachers of the school (the subclass says which)."""

    role: str
    serializer_class = s.PersonSerializer
    filterset_class = filters.PersonFilter
    ordering_fields = ["last_name", "first_name", "date_joined", "lms_id", "email"]
    ordering = ["last_name", "first_name", "username"]
    lookup_field = "uuid"
    permission_classes = [*ApiView.permission_classes, SchoolWideWrites]

    model = User

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return User.objects.none()
        return access.visible_people(self.request.user, self.role)

    def get_object(self):
        manage = self.request.method not in ("GET", "HEAD", "OPTIONS")
        return access.get_person(
            self.request.user, self.kwargs[self.lookup_url_kwarg], self.role, manage=manage
        )

    def perform_create(self, serializer):
        data = serializer.validated_data
        with transaction.atomic():
            user = services.create_school_user(
                self.request.user.school,
                self.role,
                email=data.get("email", ""),
                username=services.unique_username(data.get("email") or data.get("lms_id") or self.role),
            )
            serializer.instance = serializer.update(user, data)

    def perform_destroy(self, instance):
        services.deactivate_user(instance)

    def upsert(self, request):
        body = s.UpsertRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        outcome = roster.upsert_people(request.user.school, self.role, body.validated_data["items"])
        return Response(s.UpsertResponseSerializer(outcome.as_dict()).data)


def _person_docs(noun: str, example: dict, write: dict):
    return extend_schema_view(
        list=extend_schema(
            summary=f"List {noun}s",
            description="Admins and keys: the whole school; teachers and students: the people they work with.",
            examples=[ex.ok(noun.capitalize() + "s", example)],
        ),
        create=extend_schema(
            summary=f"Create a {noun}",
            description="New accounts have no password; the school admin sends a reset (or the LMS signs them in).",
            examples=[ex.req(f"New {noun}", write), ex.ok("Created", example, 201)],
        ),
        retrieve=extend_schema(summary=f"Get a {noun}", examples=[ex.ok(noun.capitalize(), example)]),
        update=extend_schema(
            summary=f"Replace a {noun}",
            examples=[ex.req(noun.capitalize(), write), ex.ok("Updated", example)],
        ),
        partial_update=extend_schema(
            summary=f"Change some fields of a {noun} (`is_active: true` reactivates)",
            examples=[ex.req("New email", {"email": example["email"]}), ex.ok("Updated", example)],
        ),
        destroy=extend_schema(
            summary=f"Deactivate a {noun}",
            description="The account can no longer log in; its history is kept. PATCH `is_active: true` undoes it.",
        ),
    )


BULK_DOCS = {
    "description": (
        "Creates or updates people by `lms_id`, so an LMS can sync its users idempotently: the same request twice "
        "reports every item `unchanged` the second time. Fields left out keep their value. An existing account with "
        "the same email and no LMS id is linked rather than duplicated. All-or-nothing: one bad item (reported "
        "as `items.<n>.<field>`) and nothing is written."
    ),
    "request": s.UpsertRequestSerializer,
    "responses": s.UpsertResponseSerializer,
    "examples": [ex.req("Two people", ex.UPSERT_REQUEST), ex.ok("Result", ex.UPSERT_RESPONSE)],
}


@_person_docs("student", ex.STUDENT, ex.STUDENT_WRITE)
@extend_schema(tags=["students"])
class StudentViewSet(PersonViewSet):
    role = Role.STUDENT
    lookup_url_kwarg = "student_uuid"

    @extend_schema(summary="Bulk upsert students by LMS id", **BULK_DOCS)
    @action(detail=False, methods=["post"], url_path="bulk-upsert")
    def bulk_upsert(self, request):
        return self.upsert(request)


@_person_docs("teacher", ex.TEACHER, ex.TEACHER_WRITE)
@extend_schema(tags=["teachers"])
class TeacherViewSet(PersonViewSet):
    role = Role.TEACHER
    lookup_url_kwarg = "teacher_uuid"

    @extend_schema(summary="Bulk upsert teachers by LMS id", **BULK_DOCS)
    @action(detail=False, methods=["post"], url_path="bulk-upsert")
    def bulk_upsert(self, request):
        return self.upsert(request)

    def perform_destroy(self, instance):
        if instance.taught_classes.exists():
            raise Conflict("This teacher still teaches classes; give them to another teacher first.")
        super().perform_destroy(instance)


# --- enrolments ---------------------------------------------------------------------------------------------


@extend_schema(tags=["enrolments"])
@extend_schema_view(
    list=extend_schema(
        summary="List enrolments (all classes)",
        description="Filter by class or student, by UUID or LMS id.",
        examples=[ex.ok("Enrolments", ex.ENROLMENT)],
    )
)
class EnrolmentListViewSet(ApiViewSet, mixins.ListModelMixin):
    serializer_class = s.EnrolmentSerializer
    filterset_class = filters.EnrolmentFilter
    ordering_fields = ["enrolled_at"]
    ordering = ["enrolled_at", "pk"]

    model = Enrolment

    def visible_queryset(self):
        return access.visible_enrolments(self.request.user).select_related("classroom", "student")


@extend_schema(tags=["enrolments"])
@extend_schema_view(
    list=extend_schema(summary="List a class's enrolments", examples=[ex.ok("Enrolments", ex.ENROLMENT)]),
    create=extend_schema(
        summary="Enrol a student in a class",
        description="Idempotent: enrolling an enrolled student answers 200 with the existing enrolment.",
        examples=[ex.req("Enrol", {"student": ex.STUDENT_UUID}), ex.ok("Enrolled", ex.ENROLMENT, 201)],
        responses={201: s.EnrolmentSerializer, 200: s.EnrolmentSerializer},
    ),
    retrieve=extend_schema(summary="Get one enrolment", examples=[ex.ok("Enrolment", ex.ENROLMENT)]),
    destroy=extend_schema(summary="Unenrol a student (their history stays)"),
)
class ClassEnrolmentViewSet(
    ApiViewSet,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
):
    serializer_class = s.EnrolmentSerializer
    ordering_fields = ["enrolled_at"]
    ordering = ["enrolled_at", "pk"]
    lookup_field = "student__uuid"
    lookup_url_kwarg = "student_uuid"

    def classroom(self, manage=False):
        return access.get_classroom(self.request.user, self.kwargs["class_uuid"], manage=manage)

    model = Enrolment

    def visible_queryset(self):
        classroom = self.classroom()
        return (
            access.visible_enrolments(self.request.user)
            .filter(classroom=classroom)
            .select_related("classroom", "student")
        )

    def get_object(self):
        manage = self.request.method not in ("GET", "HEAD", "OPTIONS")
        classroom = self.classroom(manage=manage)
        enrolment = get_object_or_404(
            Enrolment.objects.select_related("classroom", "student"),
            classroom=classroom,
            student__uuid=access.as_uuid(self.kwargs["student_uuid"]),
        )
        if not access.visible_enrolments(self.request.user).filter(pk=enrolment.pk).exists():
            raise PermissionDenied("You may not see this student's enrolment.")
        return enrolment

    def create(self, request, *args, **kwargs):
        classroom = self.classroom(manage=True)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        enrolment, created = Enrolment.objects.get_or_create(
            classroom=classroom, student=serializer.validated_data["student"]
        )
        return Response(
            self.get_serializer(enrolment).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


# --- sessions -----------------------------------------------------------------------------------------------

ETAG_PARAMETERS = [
    OpenApiParameter(
        "If-None-Match",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description="The ETag of a copy you hold: 304 (no body) when it is still current.",
    ),
    OpenApiParameter(
        "ETag",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[200, 304],
        description="Changes whenever the summary's content changes.",
    ),
]


def _transition_docs(verb: str, description: str, result: dict):
    return extend_schema(
        summary=f"{verb} the session",
        description=description,
        request=None,
        responses=s.LiveSessionSerializer,
        examples=[ex.ok(verb, result)],
    )


@extend_schema(tags=["sessions"])
@extend_schema_view(
    list=extend_schema(
        summary="List sessions",
        description="Filter by class (UUID or LMS id), status (repeatable) and scheduled-start range.",
        examples=[ex.ok("Sessions", ex.SESSION)],
    ),
    create=extend_schema(
        summary="Schedule a session",
        examples=[ex.req("Schedule", ex.SESSION_WRITE), ex.ok("Scheduled", ex.SESSION, 201)],
    ),
    retrieve=extend_schema(summary="Get a session", examples=[ex.ok("A session", ex.SESSION)]),
    update=extend_schema(
        summary="Replace a session",
        description="Schedule and stream settings change only while the session is scheduled.",
        examples=[ex.req("Session", ex.SESSION_WRITE), ex.ok("Updated", ex.SESSION)],
    ),
    partial_update=extend_schema(
        summary="Reschedule or rename a session",
        description="Schedule and stream settings change only while the session is scheduled.",
        examples=[
            ex.req("Move", {"scheduled_start": "2026-10-06T09:00:00Z"}),
            ex.ok("Moved", {**ex.SESSION, "scheduled_start": "2026-10-06T09:00:00Z"}),
        ],
    ),
)
class SessionViewSet(
    ApiViewSet,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
):
    serializer_class = s.LiveSessionSerializer
    filterset_class = filters.SessionFilter
    ordering_fields = ["scheduled_start", "created_at", "title", "started_at"]
    ordering = ["-scheduled_start"]
    lookup_field = "uuid"
    lookup_url_kwarg = "session_uuid"

    model = LiveSession

    def visible_queryset(self):
        return access.visible_sessions(self.request.user).select_related("classroom")

    def get_object(self):
        manage = self.request.method not in ("GET", "HEAD", "OPTIONS")
        return access.get_session(self.request.user, self.kwargs["session_uuid"], manage=manage)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        classroom = data.pop("classroom")
        if not access.can_manage(self.request.user, classroom):
            raise PermissionDenied("Only the class's teacher and the school's admins schedule its sessions.")
        serializer.instance = services.schedule_session(classroom, **data)

    @_transition_docs(
        "Start", "Scheduled → live: students can join and stream. 409 from any other state.", ex.SESSION_LIVE
    )
    @action(detail=True, methods=["post"])
    def start(self, request, session_uuid=None):
        return Response(self.get_serializer(services.start_session(self.get_object())).data)

    @_transition_docs(
        "End",
        "Live → ended: streams close and the `session.ended` webhook (with the summary) is sent.",
        {**ex.SESSION_LIVE, "status": "ended", "ended_at": "2026-10-05T09:46:40Z"},
    )
    @action(detail=True, methods=["post"])
    def end(self, request, session_uuid=None):
        return Response(self.get_serializer(services.end_session(self.get_object())).data)

    @_transition_docs(
        "Cancel",
        "Scheduled → cancelled. A live session cannot be cancelled (end it).",
        {**ex.SESSION, "status": "cancelled"},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, session_uuid=None):
        return Response(self.get_serializer(services.cancel_session(self.get_object())).data)

    @extend_schema(
        summary="Session summary",
        description=(
            "Presence, mood distribution, per-minute class timeline, per-student rows, alerts and notable moments, "
            "from the per-minute roll-ups. Emotion keys are absent for presence-only schools. Send the `ETag` back "
            "as `If-None-Match` to get 304 while nothing changed."
        ),
        parameters=ETAG_PARAMETERS,
        responses={200: s.SessionSummarySerializer, 304: OpenApiResponse(description="Not modified.")},
        examples=[ex.ok("Summary", ex.SUMMARY)],
    )
    @action(detail=True, methods=["get"])
    def summary(self, request, session_uuid=None):
        session = access.get_session(request.user, session_uuid, manage=True)
        data = s.SessionSummarySerializer(summaries.session_summary(session)).data
        return conditional_json(request, data)


def conditional_json(request, data) -> Response:
    """200 with a strong ETag of the body, or 304 when the client's If-None-Match names it."""
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Authorization, X-Api-Key, Cookie"}
    wanted = request.headers.get("If-None-Match", "")
    tags = {tag.strip().removeprefix("W/") for tag in wanted.split(",") if tag.strip()}
    if etag in tags or "*" in tags:
        return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(data, headers=headers)


# --- students' history --------------------------------------------------------------------------------------


class HistoryQuerySerializer(serializers.Serializer):
    date_from = serializers.DateField(required=False, help_text="First day (YYYY-MM-DD).")
    date_to = serializers.DateField(required=False, help_text="Last day (YYYY-MM-DD).")


class StudentHistoryView(ApiView):
    @extend_schema(
        tags=["students"],
        summary="A student's history",
        description=(
            "Per-session summaries (oldest first), totals and trend. Teachers see their own classes' sessions; "
            "students may read their own history."
        ),
        parameters=[HistoryQuerySerializer],
        responses=s.StudentHistorySerializer,
        examples=[ex.ok("History", ex.HISTORY)],
    )
    def get(self, request, student_uuid):
        query = HistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = get_student_for_user(request.user, access.as_uuid(student_uuid))
        data = summaries.student_history(found.student, classrooms=found.classrooms, **query.validated_data)
        return Response(s.StudentHistorySerializer(data).data)


class StudentSessionSeriesView(ApiView):
    @extend_schema(
        tags=["students"],
        summary="A student's minute-by-minute series in one session",
        description="With the class's mood in the same minutes for comparison.",
        responses=s.StudentSessionSeriesSerializer,
        examples=[ex.ok("Series", ex.SERIES)],
    )
    def get(self, request, student_uuid, session_uuid):
        found, session = get_student_session_for_user(
            request.user, access.as_uuid(student_uuid), access.as_uuid(session_uuid)
        )
        data = summaries.student_session_series(found.student, session)
        return Response(s.StudentSessionSeriesSerializer(data).data)


# --- samples export -----------------------------------------------------------------------------------------


@extend_schema(
    tags=["samples"],
    summary="Export raw samples",
    description=(
        "Every analysed frame (derived results only: pictures are never stored), oldest first, cursor-paginated: "
        "follow `next` until it is null. Up to 5000 per page (`page_size`). Teachers get their classes' samples; "
        "students their own."
    ),
    examples=[ex.ok("Samples", ex.SAMPLE)],
)
class SampleExportView(ApiView, generics.ListAPIView):
    serializer_class = s.SampleSerializer
    pagination_class = SamplesCursorPagination
    filter_backends = [StrictFilterBackend]
    filterset_class = filters.SampleFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return EmotionSample.objects.with_scopes_disabled().none()
        return access.visible_samples(self.request.user).values(
            "id",
            "session__uuid",
            "student__uuid",
            "student__lms_id",
            "captured_at",
            "face_count",
            "emotion",
            "confidence",
            "p_angry",
            "p_disgust",
            "p_fear",
            "p_happy",
            "p_sad",
            "p_surprise",
            "p_neutral",
        )


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Unknown paths under /api/v1/ answer in the API's error format (CSRF-exempt like the API itself, so a
    mistyped POST is a 404, not a CSRF page)."""

    return JsonResponse(
        error_body("not_found", "No such API endpoint. Paths end with a slash; see /api/v1/docs/."),
        status=404,
    )
