"""Django admin for schools, people, classes, sessions and consent. See `admin_site` for how school admins are
kept inside their school."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from . import services
from .admin_site import (
    SchoolScopedAdmin,
    SchoolScopedMixin,
    UuidUrlsMixin,
    school_admin_of,
    site,
)
from .models import (
    Classroom,
    Consent,
    ConsentPolicy,
    Enrolment,
    LiveSession,
    Role,
    School,
    SessionStatus,
    User,
)


class ReadOnlyForEveryone:
    """Records that must not be rewritten by hand (what students agreed to, what the cameras measured).
    Operators may still delete them, e.g. to honour an erasure request."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(School, site=site)
class SchoolAdmin(SchoolScopedAdmin):
    school_field = None
    list_display = (
        "name",
        "slug",
        "presence_only",
        "retention_days",
        "aggregate_retention_days",
        "created_at",
    )
    search_fields = ("name", "slug", "lms_id")
    fields = ("name", "slug", "lms_id", "presence_only", "retention_days", "aggregate_retention_days")

    def get_readonly_fields(self, request, obj=None):
        if school_admin_of(request) is not None:
            return ("slug",)  # part of operator tooling and URLs; only operators rename it
        return ()

    def has_add_permission(self, request, *args):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(User, site=site)
class UserAdmin(UuidUrlsMixin, SchoolScopedMixin, DjangoUserAdmin):
    list_display = ("username", "first_name", "last_name", "email", "role", "school", "is_active")
    search_fields = ("username", "first_name", "last_name", "email", "lms_id")
    list_filter = ("school", "role", "is_active", "is_staff", "is_superuser")
    ordering = ("last_name", "first_name", "username")
    operator_fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("School", {"fields": ("school", "role", "lms_id")}),
    )
    operator_add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "usable_password", "password1", "password2")}),
        ("School", {"fields": ("school", "role", "email", "first_name", "last_name")}),
    )
    # School admins never see superuser, staff, group or permission fields: no escalation through the admin.
    # Nor do they choose or change usernames: they are unique across every school, so "this username is taken"
    # would tell them about other schools. New accounts get one generated from their email
    # (`services.unique_username`); it is shown, read-only, on the change form.
    school_fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Person", {"fields": ("first_name", "last_name", "email")}),
        ("School", {"fields": ("role", "lms_id", "is_active")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    school_add_fieldsets = (
        ("Person", {"classes": ("wide",), "fields": ("role", "first_name", "last_name", "email")}),
        (None, {"classes": ("wide",), "fields": ("usable_password", "password1", "password2")}),
    )

    def get_fieldsets(self, request, obj=None):
        operator = school_admin_of(request) is None
        if obj is None:
            return self.operator_add_fieldsets if operator else self.school_add_fieldsets
        return self.operator_fieldsets if operator else self.school_fieldsets

    def get_readonly_fields(self, request, obj=None):
        if school_admin_of(request) is not None:
            return ("username", "last_login", "date_joined")
        return ()

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None and school_admin_of(request) is not None:
            form.base_fields["email"].required = True  # the username is made from it
        return form

    def save_model(self, request, obj, form, change):
        if not change and not obj.username:
            obj.username = services.unique_username(obj.email)
        super().save_model(request, obj, form, change)

    def get_list_filter(self, request):
        if school_admin_of(request) is not None:
            return ("role", "is_active")
        return self.list_filter


class StudentChoicesOnly:
    """Only students are enrolled (the model's FK points at every user)."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "student" and field is not None:
            field.queryset = field.queryset.filter(role=Role.STUDENT)
        return field


@admin.register(Classroom, site=site)
class ClassroomAdmin(SchoolScopedAdmin):
    list_display = ("name", "subject", "teacher", "school", "created_at")
    list_select_related = ("teacher", "school")
    search_fields = ("name", "subject", "lms_id")
    list_filter = ("school",)
    fields = ("school", "name", "subject", "teacher", "lms_id", "enrolled_students")
    # The students are listed here and enrolled on the Enrolment pages, not in an inline: an inline form carries
    # each row's and the class's sequential pk in hidden inputs, which the admin otherwise never shows.
    readonly_fields = ("enrolled_students",)

    @admin.display(description=_("Students"))
    def enrolled_students(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        students = obj.students.order_by("last_name", "first_name", "username")
        add = reverse("admin:classes_enrolment_add")
        listing = format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            (
                (
                    reverse("admin:classes_user_change", args=[student.uuid]),
                    student.get_full_name() or student,
                )
                for student in students
            ),
        )
        return format_html('{} <a href="{}">{}</a>', listing or _("none yet"), add, _("Enrol a student"))


@admin.register(Enrolment, site=site)
class EnrolmentAdmin(StudentChoicesOnly, SchoolScopedAdmin):
    school_field = None
    list_display = ("student", "classroom", "enrolled_at")
    list_select_related = ("student", "classroom")
    search_fields = ("student__username", "student__last_name", "classroom__name")
    list_filter = ("classroom",)


@admin.register(LiveSession, site=site)
class LiveSessionAdmin(SchoolScopedAdmin):
    school_field = None
    list_display = ("title", "classroom", "status", "scheduled_start", "started_at", "ended_at")
    list_select_related = ("classroom",)
    list_filter = ("status", "classroom")
    search_fields = ("title", "classroom__name", "lms_id")
    # Status only moves through the state machine (the live pages, the API, or the actions below).
    readonly_fields = ("status", "started_at", "ended_at", "uuid", "created_at")
    actions = ("end_live_sessions", "cancel_scheduled_sessions")

    @admin.action(description="End the selected live sessions")
    def end_live_sessions(self, request, queryset):
        self._transition(request, queryset.filter(status=SessionStatus.LIVE), services.end_session, "ended")

    @admin.action(description="Cancel the selected scheduled sessions")
    def cancel_scheduled_sessions(self, request, queryset):
        self._transition(
            request, queryset.filter(status=SessionStatus.SCHEDULED), services.cancel_session, "cancelled"
        )

    def _transition(self, request, queryset, operation, verb):
        done = 0
        for session in queryset:
            try:
                operation(session)
                done += 1
            except ValidationError as error:
                self.message_user(request, f"{session}: {error.messages[0]}", messages.WARNING)
        self.message_user(request, f"{done} session{'s' if done != 1 else ''} {verb}.")


@admin.register(ConsentPolicy, site=site)
class ConsentPolicyAdmin(ReadOnlyForEveryone, SchoolScopedAdmin):
    """New versions are published from the school's consent page, so that version numbers stay gapless."""

    list_display = ("school", "version", "created_at", "created_by")
    list_select_related = ("school", "created_by")
    list_filter = ("school",)


@admin.register(Consent, site=site)
class ConsentAdmin(ReadOnlyForEveryone, SchoolScopedAdmin):
    school_field = None
    list_display = ("student", "policy", "granted", "decided_at")
    list_select_related = ("student", "policy", "policy__school")
    list_filter = ("granted",)
    search_fields = ("student__username", "student__last_name")
