"""The LMS integration's tables in the Django admin, limited to the school admin's school like every other model."""

from django.contrib import admin

from classes.admin import ReadOnlyForEveryone
from classes.admin_site import SchoolScopedAdmin, site

from .models import ApiKey, Delivery, LrsSettings, Webhook


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


@admin.register(Delivery, site=site)
class DeliveryAdmin(ReadOnlyForEveryone, SchoolScopedAdmin):
    list_display = ("created_at", "kind", "event", "webhook", "lrs", "status", "attempts", "response_status")
    list_select_related = ("webhook", "lrs")
    list_filter = ("kind", "status", "event")


@admin.register(LrsSettings, site=site)
class LrsSettingsAdmin(ReadOnlyForEveryone, SchoolScopedAdmin):
    """Edited on the integrations page, where the secret is entered (and never shown again)."""

    list_display = ("school", "endpoint", "version", "enabled", "last_test_at", "last_test_ok")
    list_select_related = ("school",)
    exclude = ("secret_encrypted",)
