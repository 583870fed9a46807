"""Django admin for what analysis produced and for the API's keys and webhooks, limited to the school admin's
school by `classes.admin_site.SchoolScopedAdmin`. Measurements are read-only: they are what the cameras saw."""

from django.contrib import admin

from classes.admin import ReadOnlyForEveryone
from classes.admin_site import SchoolScopedAdmin, site

from .models import Alert, EmotionSample, SessionMinute, StudentMinute, StudentSession


class MeasurementAdmin(ReadOnlyForEveryone, SchoolScopedAdmin):
    school_field = None
    list_select_related = ("session", "session__classroom")
    show_full_result_count = False  # sample tables are large; skip the second COUNT(*)


@admin.register(EmotionSample, site=site)
class EmotionSampleAdmin(MeasurementAdmin):
    list_display = ("captured_at", "student", "session", "face_count", "emotion", "confidence")
    list_select_related = ("student", "session", "session__classroom")
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


# --- API --------------------------------------------------------------------------------------------------

from .api.models import ApiKey, Webhook, WebhookDelivery  # noqa: E402


@admin.register(ApiKey, site=site)
class ApiKeyAdmin(SchoolScopedAdmin):
    """Keys are issued on the integrations page, the only place the full key is ever shown."""

    list_display = ("name", "prefix", "scope", "school", "created_at", "last_used_at", "revoked_at")
    list_select_related = ("school",)
    list_filter = ("school", "scope")
    search_fields = ("name", "prefix")
    fields = ("school", "name", "scope", "prefix", "created_at", "created_by", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "created_by", "last_used_at")

    def has_add_permission(self, request, *args):
        return False


@admin.register(Webhook, site=site)
class WebhookAdmin(SchoolScopedAdmin):
    list_display = ("url", "school", "is_active", "created_at")
    list_select_related = ("school",)
    list_filter = ("school", "is_active")
    search_fields = ("url", "description")
    fields = ("school", "url", "events", "description", "is_active")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "url":
            kwargs["assume_scheme"] = "https"  # webhook receivers are HTTPS endpoints
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(WebhookDelivery, site=site)
class WebhookDeliveryAdmin(ReadOnlyForEveryone, SchoolScopedAdmin):
    school_field = None
    list_display = ("created_at", "event", "webhook", "status", "attempts", "response_status")
    list_select_related = ("webhook",)
    list_filter = ("status", "event")
