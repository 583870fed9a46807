"""Query filters (django-filter). Related objects are named by UUID or by LMS id, never by database id."""

from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Q
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field

from analytics.models import EmotionSample
from classes.models import Classroom, Enrolment, LiveSession, SessionStatus, User


class UTCIsoDateTimeField(IsoDateTimeField):
    """ISO 8601 with any offset, compared in UTC (PostgreSQL refuses offsets beyond ±15:59 in a literal)."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError as error:
            raise ValidationError("This date and time is out of range.", code="overflow") from error


class UTCIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCIsoDateTimeField


@extend_schema_field({"type": "string", "enum": ["true", "false"]})
class TrueFalseFilter(django_filters.TypedChoiceFilter):
    """`true` or `false`, nothing else (django-filter's BooleanFilter quietly ignores other values)."""

    def __init__(self, **kwargs):
        super().__init__(
            choices=[("true", "true"), ("false", "false")], coerce=lambda value: value == "true", **kwargs
        )


class ClassroomFilter(django_filters.FilterSet):
    teacher = django_filters.UUIDFilter(field_name="teacher__uuid", help_text="Teacher's UUID.")
    lms_id = django_filters.CharFilter(help_text="Exact LMS id.")
    search = django_filters.CharFilter(method="filter_search", help_text="Part of the name or subject.")

    class Meta:
        model = Classroom
        fields = ["teacher", "lms_id", "search"]

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(subject__icontains=value))


class PersonFilter(django_filters.FilterSet):
    lms_id = django_filters.CharFilter(help_text="Exact LMS id.")
    email = django_filters.CharFilter(field_name="email", lookup_expr="iexact", help_text="Exact email.")
    is_active = TrueFalseFilter(help_text="true: active accounts only; false: deactivated ones only.")
    classroom = django_filters.UUIDFilter(
        method="filter_classroom", help_text="Only people in this class (students enrolled, or its teacher)."
    )

    class Meta:
        model = User
        fields = ["lms_id", "email", "is_active", "classroom"]

    def filter_classroom(self, queryset, name, value):
        return queryset.filter(
            Q(enrolments__classroom__uuid=value) | Q(taught_classes__uuid=value)
        ).distinct()


class EnrolmentFilter(django_filters.FilterSet):
    classroom = django_filters.UUIDFilter(field_name="classroom__uuid", help_text="Class UUID.")
    student = django_filters.UUIDFilter(field_name="student__uuid", help_text="Student UUID.")
    classroom_lms_id = django_filters.CharFilter(field_name="classroom__lms_id")
    student_lms_id = django_filters.CharFilter(field_name="student__lms_id")

    class Meta:
        model = Enrolment
        fields = ["classroom", "student", "classroom_lms_id", "student_lms_id"]


class SessionFilter(django_filters.FilterSet):
    classroom = django_filters.UUIDFilter(field_name="classroom__uuid", help_text="Class UUID.")
    classroom_lms_id = django_filters.CharFilter(field_name="classroom__lms_id", help_text="Class LMS id.")
    status = django_filters.MultipleChoiceFilter(
        choices=SessionStatus.choices, help_text="One or more statuses (repeat the parameter)."
    )
    lms_id = django_filters.CharFilter(help_text="Exact LMS id.")
    scheduled_after = UTCIsoDateTimeFilter(
        field_name="scheduled_start", lookup_expr="gte", help_text="Scheduled start at or after (ISO 8601)."
    )
    scheduled_before = UTCIsoDateTimeFilter(
        field_name="scheduled_start", lookup_expr="lt", help_text="Scheduled start before (ISO 8601)."
    )

    class Meta:
        model = LiveSession
        fields = ["classroom", "classroom_lms_id", "status", "lms_id", "scheduled_after", "scheduled_before"]


class SampleFilter(django_filters.FilterSet):
    session = django_filters.UUIDFilter(field_name="session__uuid", help_text="Session UUID.")
    student = django_filters.UUIDFilter(field_name="student__uuid", help_text="Student UUID.")
    classroom = django_filters.UUIDFilter(field_name="session__classroom__uuid", help_text="Class UUID.")
    since = UTCIsoDateTimeFilter(field_name="captured_at", lookup_expr="gte")
    until = UTCIsoDateTimeFilter(field_name="captured_at", lookup_expr="lt")

    class Meta:
        model = EmotionSample
        fields = ["session", "student", "classroom", "since", "until"]
