"""Request and response shapes. Public ids are UUIDs; `lms_id` is the LMS's own id; times are UTC ISO 8601.

No serializer has a school field: the school is the caller's (from the key or the logged-in user), and related
objects are looked up in querysets already scoped to that school, so another school's id is simply "not found".
"""

import uuid
from datetime import UTC, timedelta

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analytics.models import EMOTIONS
from classes.models import Classroom, Enrolment, LiveSession, Role, SessionStatus, User

MAX_UPSERT_ITEMS = 1000


class UTCDateTimeField(serializers.DateTimeField):
    """Always UTC on the way out (`…Z`), whatever TIME_ZONE the server runs with."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("default_timezone", UTC)
        super().__init__(*args, **kwargs)


class StrictTypesMixin:
    """JSON types as the schema states them: DRF would read 45 as "45" or "45" as 45, which hides client bugs
    (and makes the OpenAPI document a lie)."""

    JSON_TYPES = (
        (serializers.BooleanField, (bool,), "Expected true or false."),
        (serializers.IntegerField, (int,), "Expected a whole number."),
        (serializers.FloatField, (int, float), "Expected a number."),
        (serializers.CharField, (str,), "Expected a string."),
        (serializers.RelatedField, (str,), "Expected a string."),
        (serializers.DateTimeField, (str,), "Expected a string."),
    )

    def to_internal_value(self, data):
        if isinstance(data, dict):
            errors = {}
            for name, field in self.fields.items():
                if field.read_only or field.source == "*" or name not in data or data[name] is None:
                    continue
                for field_class, types, message in self.JSON_TYPES:
                    if isinstance(field, field_class):
                        value = data[name]
                        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
                            errors[name] = [message]
                        break
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class ApiModelSerializer(StrictTypesMixin, serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: UTCDateTimeField,
    }


class SchoolObjectField(serializers.SlugRelatedField):
    """A related object named by UUID, looked up among the caller's school's objects only (the queryset is built
    per request, inside the school scope)."""

    def __init__(self, queryset_factory, **kwargs):
        self.queryset_factory = queryset_factory
        super().__init__(slug_field="uuid", **kwargs)

    def get_queryset(self):
        return self.queryset_factory()

    def to_internal_value(self, data):
        try:
            uuid.UUID(str(data))
        except ValueError:
            self.fail("invalid")
        return super().to_internal_value(str(data))


def _lms_id_field():
    return serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="The LMS's own id for this object (unique within the school; empty for none).",
    )


def _check_unique_lms_id(queryset, value: str, instance, what: str) -> str:
    value = value.strip()
    if value:
        clash = queryset.filter(lms_id=value)
        if instance is not None:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            raise serializers.ValidationError(f"Another {what} already has the LMS id “{value}”.")
    return value


# --- school -------------------------------------------------------------------------------------------------


class SchoolSerializer(serializers.Serializer):
    uuid = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    slug = serializers.CharField(read_only=True)
    lms_id = serializers.CharField(read_only=True)
    presence_only = serializers.BooleanField(
        read_only=True, help_text="When true, no emotion data exists: summaries carry presence only."
    )
    retention_days = serializers.IntegerField(read_only=True)


class CallerKeySerializer(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    prefix = serializers.CharField(read_only=True)
    scope = serializers.ChoiceField(choices=["read", "read_write"], read_only=True)


class CallerUserSerializer(serializers.Serializer):
    uuid = serializers.UUIDField(read_only=True)
    username = serializers.CharField(read_only=True)
    role = serializers.ChoiceField(choices=Role.choices, read_only=True)


class MeSerializer(serializers.Serializer):
    school = SchoolSerializer(read_only=True)
    key = CallerKeySerializer(read_only=True, allow_null=True)
    user = CallerUserSerializer(read_only=True, allow_null=True)


# --- classes ------------------------------------------------------------------------------------------------


class ClassroomSerializer(ApiModelSerializer):
    teacher = SchoolObjectField(
        lambda: User.in_school.filter(role=Role.TEACHER), help_text="UUID of a teacher of the school."
    )
    teacher_name = serializers.CharField(source="teacher.__str__", read_only=True)
    lms_id = _lms_id_field()
    student_count = serializers.IntegerField(read_only=True, help_text="Students enrolled.")

    class Meta:
        model = Classroom
        fields = [
            "uuid",
            "name",
            "subject",
            "teacher",
            "teacher_name",
            "lms_id",
            "student_count",
            "created_at",
        ]
        read_only_fields = ["uuid", "created_at"]

    def validate_lms_id(self, value):
        return _check_unique_lms_id(Classroom.objects.all(), value, self.instance, "class")

    def validate_teacher(self, teacher):
        if not teacher.is_active:
            raise serializers.ValidationError("This teacher's account is deactivated.")
        return teacher


# --- people -------------------------------------------------------------------------------------------------


class PersonSerializer(ApiModelSerializer):
    """A student or a teacher (the endpoint decides which)."""

    email = serializers.EmailField(max_length=254, required=False, allow_blank=True, default="")
    lms_id = _lms_id_field()
    date_joined = UTCDateTimeField(read_only=True)

    class Meta:
        model = User
        fields = [
            "uuid",
            "lms_id",
            "email",
            "first_name",
            "last_name",
            "username",
            "is_active",
            "date_joined",
        ]
        read_only_fields = ["uuid", "username", "date_joined"]
        extra_kwargs = {"is_active": {"required": False}}

    def validate_lms_id(self, value):
        return _check_unique_lms_id(User.in_school.all(), value, self.instance, "person")

    def validate_email(self, value):
        value = value.strip().lower()
        if value:
            clash = User.in_school.filter(email__iexact=value)
            if self.instance is not None:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                raise serializers.ValidationError(
                    "Another person of this school already uses this email address."
                )
        return value


class UpsertItemSerializer(StrictTypesMixin, serializers.Serializer):
    """One person of an LMS roster. Fields left out keep their current value (or are empty for a new person)."""

    lms_id = serializers.CharField(max_length=200, help_text="The LMS's id: the key of the upsert.")
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False, help_text="false deactivates the account.")

    def validate_lms_id(self, value):
        value = value.strip()
        if not value:
            raise serializers.ValidationError("The LMS id may not be blank.")
        return value

    def validate_email(self, value):
        return value.strip().lower()


class UpsertRequestSerializer(serializers.Serializer):
    items = UpsertItemSerializer(many=True, max_length=MAX_UPSERT_ITEMS, allow_empty=False)

    def validate_items(self, items):
        seen: dict[str, int] = {}
        emails: dict[str, int] = {}
        errors = {}
        for index, item in enumerate(items):
            if item["lms_id"] in seen:
                errors[index] = {"lms_id": [f"Also given in item {seen[item['lms_id']]}."]}
            seen.setdefault(item["lms_id"], index)
            if item.get("email"):
                if item["email"] in emails:
                    errors[index] = {"email": [f"Also given in item {emails[item['email']]}."]}
                emails.setdefault(item["email"], index)
        if errors:
            raise serializers.ValidationError(errors)
        return items


class UpsertResultItemSerializer(serializers.Serializer):
    lms_id = serializers.CharField()
    uuid = serializers.UUIDField()
    result = serializers.ChoiceField(choices=["created", "updated", "unchanged"])


class UpsertResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    results = UpsertResultItemSerializer(many=True)


class RosterRequestSerializer(serializers.Serializer):
    students = UpsertItemSerializer(many=True, max_length=MAX_UPSERT_ITEMS, allow_empty=True)

    def validate_students(self, items):
        return UpsertRequestSerializer().validate_items(items)


class RosterResponseSerializer(UpsertResponseSerializer):
    enrolled = serializers.IntegerField(help_text="Students newly enrolled in the class.")
    unenrolled = serializers.IntegerField(
        help_text="Students removed because the roster no longer lists them."
    )
    already_enrolled = serializers.IntegerField()


# --- enrolments ---------------------------------------------------------------------------------------------


class EnrolmentSerializer(ApiModelSerializer):
    classroom = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    student = SchoolObjectField(
        lambda: User.in_school.filter(role=Role.STUDENT), help_text="UUID of a student of the school."
    )
    student_lms_id = serializers.CharField(source="student.lms_id", read_only=True)
    student_name = serializers.CharField(source="student.__str__", read_only=True)

    class Meta:
        model = Enrolment
        fields = ["classroom", "student", "student_lms_id", "student_name", "enrolled_at"]
        read_only_fields = ["enrolled_at"]
        validators = []  # (classroom, student) duplicates are answered with the existing enrolment

    def validate_student(self, student):
        if not student.is_active:
            raise serializers.ValidationError("This student's account is deactivated.")
        return student


# --- sessions -----------------------------------------------------------------------------------------------


class MinutesField(serializers.IntegerField):
    """A duration as whole minutes."""

    def to_representation(self, value):
        return round(value.total_seconds() / 60)

    def run_validation(self, data=serializers.empty):
        minutes = super().run_validation(data)  # min/max checked on the number of minutes
        return minutes if minutes is None else timedelta(minutes=minutes)


class LiveSessionSerializer(ApiModelSerializer):
    classroom = SchoolObjectField(Classroom.objects.all, help_text="UUID of the class.")
    classroom_name = serializers.CharField(source="classroom.name", read_only=True)
    planned_minutes = MinutesField(
        source="planned_duration",
        min_value=1,
        max_value=600,
        required=False,
        help_text="Planned length in minutes (default 45).",
    )
    lms_id = _lms_id_field()
    scheduled_start = UTCDateTimeField()

    # What may only change before the session starts (model field -> API field).
    SCHEDULE_FIELDS = {
        "scheduled_start": "scheduled_start",
        "planned_duration": "planned_minutes",
        "frame_rate": "frame_rate",
        "no_face_alert_seconds": "no_face_alert_seconds",
        "negative_alert_seconds": "negative_alert_seconds",
        "class_drop_threshold": "class_drop_threshold",
    }

    class Meta:
        model = LiveSession
        fields = [
            "uuid",
            "classroom",
            "classroom_name",
            "title",
            "lms_id",
            "scheduled_start",
            "planned_minutes",
            "status",
            "started_at",
            "ended_at",
            "frame_rate",
            "no_face_alert_seconds",
            "negative_alert_seconds",
            "class_drop_threshold",
            "created_at",
        ]
        read_only_fields = ["uuid", "status", "started_at", "ended_at", "created_at"]
        extra_kwargs = {
            "no_face_alert_seconds": {"min_value": 5, "max_value": 3600},
            "negative_alert_seconds": {"min_value": 5, "max_value": 3600},
        }

    def validate(self, attrs):
        instance = self.instance
        classroom = attrs.get("classroom") or (instance.classroom if instance else None)
        if instance is not None and "classroom" in attrs and attrs["classroom"] != instance.classroom:
            raise serializers.ValidationError({"classroom": ["A session cannot move to another class."]})
        if instance is not None and instance.status != SessionStatus.SCHEDULED:
            changed = [
                api_name
                for name, api_name in self.SCHEDULE_FIELDS.items()
                if name in attrs and attrs[name] != getattr(instance, name)
            ]
            if changed:
                message = "Only the title and the LMS id can change once a session has started."
                raise serializers.ValidationError({name: [message] for name in changed})
        lms_id = attrs.get("lms_id", "")
        if lms_id and classroom is not None:
            clash = LiveSession.objects.filter(classroom=classroom, lms_id=lms_id)
            if instance is not None:
                clash = clash.exclude(pk=instance.pk)
            if clash.exists():
                raise serializers.ValidationError(
                    {"lms_id": [f"Another session of this class has the LMS id “{lms_id}”."]}
                )
        return attrs


# --- reports (shapes of analytics.reports dicts) ---------------------------------------------------------------


class ReportSerializer(serializers.Serializer):
    """Renders a report dict as it is: optional keys the dict leaves out (emotions in presence-only schools)
    stay out, rather than turning into nulls."""

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if isinstance(instance, dict):
            for name in [n for n in data if n not in instance and not self.fields[n].required]:
                del data[name]
        return data


class EmotionSharesSerializer(ReportSerializer):
    angry = serializers.FloatField()
    disgust = serializers.FloatField()
    fear = serializers.FloatField()
    happy = serializers.FloatField()
    sad = serializers.FloatField()
    surprise = serializers.FloatField()
    neutral = serializers.FloatField()


def _opt_float(**kwargs):
    return serializers.FloatField(allow_null=True, required=False, **kwargs)


def _emotion_fields():
    """The emotion keys of a report row: absent for presence-only schools, null when nothing was seen."""
    return {
        "distribution": EmotionSharesSerializer(
            allow_null=True, required=False, help_text="Share of frames per top emotion."
        ),
        "dominant": serializers.ChoiceField(choices=EMOTIONS, allow_null=True, required=False),
        "negative_share": _opt_float(
            help_text="Share of frames whose top emotion is angry, disgust, fear or sad."
        ),
        "mood": _opt_float(help_text="Mean P(happy) minus the negative probabilities, in [-1, 1]."),
    }


class _WithEmotions(ReportSerializer):
    def get_fields(self):
        fields = super().get_fields()
        fields.update(_emotion_fields())
        return fields


class SessionInfoSerializer(ReportSerializer):
    uuid = serializers.UUIDField()
    title = serializers.CharField()
    classroom = serializers.CharField(help_text="The class's name.")
    classroom_uuid = serializers.UUIDField()
    teacher = serializers.CharField()
    status = serializers.ChoiceField(choices=SessionStatus.choices)
    scheduled_start = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)


class PersonRefSerializer(ReportSerializer):
    uuid = serializers.UUIDField()
    name = serializers.CharField()


class SummaryOverallSerializer(_WithEmotions):
    minutes = serializers.IntegerField()
    samples = serializers.IntegerField()
    students_enrolled = serializers.IntegerField()
    students_seen = serializers.IntegerField()
    participants_seen = serializers.IntegerField(
        help_text="Anonymous video-call participants seen (an assigned participant counts as its student)."
    )
    presence_share = serializers.FloatField(allow_null=True)


class TimelineMinuteSerializer(ReportSerializer):
    minute = serializers.DateTimeField()
    students_streaming = serializers.IntegerField()
    students_present = serializers.IntegerField()
    participants_streaming = serializers.IntegerField(help_text="Anonymous video-call participants seen.")
    participants_present = serializers.IntegerField()
    presence_share = serializers.FloatField(allow_null=True)
    shares = EmotionSharesSerializer(allow_null=True, required=False)
    mean_probabilities = EmotionSharesSerializer(allow_null=True, required=False)
    mood = _opt_float()


class SummaryStudentSerializer(_WithEmotions):
    uuid = serializers.UUIDField()
    name = serializers.CharField()
    enrolled = serializers.BooleanField()
    minutes_seen = serializers.IntegerField()
    minutes_present = serializers.IntegerField()
    presence_share = serializers.FloatField(allow_null=True)


class ParticipantRefSerializer(ReportSerializer):
    uuid = serializers.UUIDField()
    number = serializers.IntegerField()
    name = serializers.CharField()


class SummaryParticipantSerializer(ParticipantRefSerializer, _WithEmotions):
    source = serializers.ChoiceField(choices=["live_call", "recording"])
    minutes_seen = serializers.IntegerField()
    minutes_present = serializers.IntegerField()
    presence_share = serializers.FloatField(allow_null=True)


class SummaryAlertSerializer(ReportSerializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    message = serializers.CharField()
    raised_at = serializers.DateTimeField()
    student = PersonRefSerializer(allow_null=True)
    participant = ParticipantRefSerializer(allow_null=True)


class MomentSerializer(ReportSerializer):
    minute = serializers.DateTimeField()
    index = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["mood_drop", "presence_dip"])
    label = serializers.CharField()
    value = serializers.FloatField()


class SessionSummarySerializer(ReportSerializer):
    session = SessionInfoSerializer()
    presence_only = serializers.BooleanField()
    overall = SummaryOverallSerializer()
    timeline = TimelineMinuteSerializer(many=True, help_text="The whole class, minute by minute.")
    students = SummaryStudentSerializer(many=True)
    participants = SummaryParticipantSerializer(
        many=True, help_text="Anonymous video-call participants (class figures count them)."
    )
    alerts = SummaryAlertSerializer(many=True)
    moments = MomentSerializer(many=True)


class HistorySessionSerializer(SessionInfoSerializer, _WithEmotions):
    minutes_seen = serializers.IntegerField()
    minutes_present = serializers.IntegerField()
    presence_share = serializers.FloatField(allow_null=True)


class HistoryTotalsSerializer(_WithEmotions):
    sessions_attended = serializers.IntegerField()
    sessions_held = serializers.IntegerField()
    attendance_rate = serializers.FloatField(allow_null=True)
    minutes_seen = serializers.IntegerField()
    minutes_present = serializers.IntegerField()
    presence_rate = serializers.FloatField(allow_null=True)


class HistoryTrendSerializer(ReportSerializer):
    """Least-squares change per session (null with fewer than two sessions)."""

    presence_per_session = serializers.FloatField(allow_null=True)
    negative_share_per_session = _opt_float()
    mood_per_session = _opt_float()
    direction = serializers.ChoiceField(
        choices=["more negative", "less negative", "steady", "not enough sessions"], required=False
    )


class StudentHistorySerializer(ReportSerializer):
    student = PersonRefSerializer()
    presence_only = serializers.BooleanField()
    sessions = HistorySessionSerializer(many=True, help_text="Per-session summaries, oldest first.")
    totals = HistoryTotalsSerializer()
    trend = HistoryTrendSerializer()


class SeriesMinuteSerializer(ReportSerializer):
    minute = serializers.DateTimeField()
    samples = serializers.IntegerField()
    present_samples = serializers.IntegerField()
    presence_share = serializers.FloatField(allow_null=True)
    present = serializers.BooleanField()
    shares = EmotionSharesSerializer(allow_null=True, required=False)
    mean_probabilities = EmotionSharesSerializer(allow_null=True, required=False)
    mood = _opt_float()
    class_mood = _opt_float(help_text="The whole class's mood in the same minute.")


class SeriesTotalsSerializer(_WithEmotions):
    minutes_seen = serializers.IntegerField()
    minutes_present = serializers.IntegerField()
    presence_share = serializers.FloatField(allow_null=True)


class StudentSessionSeriesSerializer(ReportSerializer):
    session = SessionInfoSerializer()
    student = PersonRefSerializer()
    presence_only = serializers.BooleanField()
    minutes = SeriesMinuteSerializer(many=True)
    totals = SeriesTotalsSerializer()


# --- samples ------------------------------------------------------------------------------------------------


class SampleSerializer(serializers.Serializer):
    """One analysed frame (values() rows: no model instances in the export's loop)."""

    session = serializers.UUIDField(source="session__uuid")
    student = serializers.UUIDField(source="student__uuid")
    student_lms_id = serializers.CharField(source="student__lms_id")
    captured_at = UTCDateTimeField()
    face_count = serializers.IntegerField()
    emotion = serializers.CharField(
        help_text="Top emotion (angry, disgust, fear, happy, sad, surprise, neutral); empty when none was inferred."
    )
    confidence = serializers.FloatField(allow_null=True)
    probabilities = serializers.SerializerMethodField()

    @extend_schema_field(EmotionSharesSerializer(allow_null=True))
    def get_probabilities(self, row):
        if row["p_angry"] is None:
            return None
        return {name: row[f"p_{name}"] for name in EMOTIONS}


# --- errors (documentation only) ------------------------------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, for programs: validation_error, not_found, …")
    message = serializers.CharField(help_text="For people.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Validation errors only: messages per field path (nested items as `items.2.email`).",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
