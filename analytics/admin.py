"""Django admin for what analysis produced and for the API's keys and webhooks, limited to the school admin's
school by `classes.admin_site.SchoolScopedAdmin`. Measurements are read-only: they are what the cameras saw."""

from django.contrib import admin

from classes.admin import ReadOnlyForEveryone
from classes.admin_site import SchoolScopedAdmin, site

from .models import (
    Alert,
    CallParticipant,
    EmotionSample,
    ParticipantMinute,
    SessionMinute,
    StudentMinute,
    StudentSession,
)


class MeasurementAdmin(ReadOnlyForEveryone, SchoolScopedAdmin):
    school_field = None
    list_select_related = ("session", "session__classroom")
    show_full_result_count = False  # sample tables are large; skip the second COUNT(*)


@admin.register(EmotionSample, site=site)
class EmotionSampleAdmin(MeasurementAdmin):
    list_display = ("captured_at", "student", "participant", "session", "face_count", "emotion", "confidence")
    list_select_related = ("student", "participant", "session", "session__classroom")
    list_filter = ("emotion",)
    search_fields = ("student__username", "student__last_name", "session__title")


@admin.register(Alert, site=site)
class AlertAdmin(MeasurementAdmin):
    list_display = ("raised_at", "kind", "student", "session", "message")
    list_select_related = ("student", "session", "session__classroom")
    list_filter = ("kind",)


@admin.register(StudentMinute, site=site)
class StudentMinuteAdmin(MeasurementAdmin):
    list_display = ("minute", "student", "session", "samples", "present_samples", "present")
    list_select_related = ("student", "session", "session__classroom")


@admin.register(SessionMinute, site=site)
class SessionMinuteAdmin(MeasurementAdmin):
    list_display = ("minute", "session", "samples", "students_streaming", "students_present")


@admin.register(StudentSession, site=site)
class StudentSessionAdmin(MeasurementAdmin):
    list_display = ("student", "session", "first_minute", "minutes_seen", "minutes_present")
    list_select_related = ("student", "session", "session__classroom")


@admin.register(CallParticipant, site=site)
class CallParticipantAdmin(MeasurementAdmin):
    list_display = ("number", "session", "source", "student", "first_seen_at", "assigned_at")
    list_select_related = ("student", "session", "session__classroom")
    list_filter = ("source",)


@admin.register(ParticipantMinute, site=site)
class ParticipantMinuteAdmin(MeasurementAdmin):
    list_display = ("minute", "participant", "session", "samples", "present_samples", "present")
    list_select_related = ("participant", "session", "session__classroom")
