"""The Django admin, open to platform operators (superusers, every school) and to school admins (their own school
only: the request already runs in their school's scope, and `SchoolScopedAdmin` filters the unscoped User and
School models, every FK/M2M choice, and sets the hidden `school` field itself)."""

from django.contrib import admin

from .models import School, User


class FermonitorAdminSite(admin.AdminSite):
    site_header = "fermonitor administration"
    site_title = "fermonitor admin"
    index_title = "Data administration"

    def has_permission(self, request):
        user = request.user
        return user.is_active and (user.is_superuser or (user.is_school_admin and user.is_staff))

    def each_context(self, request):
        context = super().each_context(request)
        user = request.user
        if user.is_authenticated and not user.is_superuser and user.school_id:
            context["site_header"] = f"{user.school.name}: data administration"
        return context


site = FermonitorAdminSite(name="admin")


# Where each model's school is, as an ORM path (the same paths the models' ScopedManagers use).
SCHOOL_PATHS = {
    "classes.school": "pk",
    "classes.user": "school",
    "classes.classroom": "school",
    "classes.enrolment": "classroom__school",
    "classes.livesession": "classroom__school",
    "classes.consentpolicy": "school",
    "classes.consent": "policy__school",
    "analytics.emotionsample": "session__classroom__school",
    "analytics.alert": "session__classroom__school",
    "analytics.studentminute": "session__classroom__school",
    "analytics.sessionminute": "session__classroom__school",
    "analytics.studentsession": "session__classroom__school",
    "analytics.apikey": "school",
    "analytics.webhook": "school",
    "analytics.webhookdelivery": "webhook__school",
}


def school_path(model) -> str:
    return SCHOOL_PATHS[model._meta.label_lower]


def limit_to_school(queryset, school_id):
    """Filter any queryset of a school-owned model (or School itself) to one school. Explicit even where the
    request scope would filter already: User and School have unscoped default managers."""
    return queryset.filter(**{school_path(queryset.model): school_id})


def school_admin_of(request) -> User | None:
    """The requesting school admin, or None for platform operators (who see every school)."""
    user = request.user
    if user.is_superuser:
        return None
    return user


class SchoolScopedMixin:
    """Shared by ModelAdmins and inlines: rows, choices and the school field limited to the admin's school."""

    # Name of a direct FK to School that school admins never see and that is set for them; None when the
    # school follows from another FK (a session's class, a consent's policy).
    school_field: str | None = "school"
    # School admins may look but not touch (derived data such as emotion samples).
    read_only_for_school_admins = False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        admin_user = school_admin_of(request)
        if admin_user is not None:
            queryset = limit_to_school(queryset, admin_user.school_id)
        return queryset

    def get_field_queryset(self, db, db_field, request):
        queryset = super().get_field_queryset(db, db_field, request)
        admin_user = school_admin_of(request)
        if admin_user is None:
            return queryset
        model = db_field.remote_field.model
        if queryset is None:
            queryset = model._default_manager.using(db).all()
        if model._meta.label_lower not in SCHOOL_PATHS:
            return queryset.none()
        return limit_to_school(queryset, admin_user.school_id)

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if school_admin_of(request) is not None and self.school_field:
            exclude.append(self.school_field)
        return exclude

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if school_admin_of(request) is not None and self.school_field:
            fields = [f for f in fields if f != self.school_field]
        return fields

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if school_admin_of(request) is not None and self.school_field in readonly:
            readonly.remove(self.school_field)
        return readonly

    def _is_school_admin(self, request) -> bool:
        return school_admin_of(request) is not None and request.user.is_school_admin

    def has_module_permission(self, request):
        return request.user.is_superuser or self._is_school_admin(request)

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or self._is_school_admin(request)

    def has_add_permission(self, request, *args):
        if self.read_only_for_school_admins and not request.user.is_superuser:
            return False
        return request.user.is_superuser or self._is_school_admin(request)

    def has_change_permission(self, request, obj=None):
        if self.read_only_for_school_admins and not request.user.is_superuser:
            return False
        return request.user.is_superuser or self._is_school_admin(request)

    def has_delete_permission(self, request, obj=None):
        if self.read_only_for_school_admins and not request.user.is_superuser:
            return False
        return request.user.is_superuser or self._is_school_admin(request)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        return self._with_school(request, form)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = self._with_school(request, formset.form)
        return formset

    def _with_school(self, request, form_class):
        """Set the hidden school before model validation runs (User.clean and Classroom.clean read it)."""
        admin_user = school_admin_of(request)
        field = self.school_field
        if admin_user is None or not field:
            return form_class

        class SchoolSetForm(form_class):
            def _post_clean(self):
                setattr(self.instance, f"{field}_id", admin_user.school_id)
                super()._post_clean()

        SchoolSetForm.__name__ = form_class.__name__
        return SchoolSetForm

    def save_model(self, request, obj, form, change):
        admin_user = school_admin_of(request)
        if admin_user is not None and self.school_field:
            setattr(obj, f"{self.school_field}_id", admin_user.school_id)
        super().save_model(request, obj, form, change)

    def get_list_filter(self, request):
        # A filter on School would list every school's name to a school admin.
        filters = list(super().get_list_filter(request))
        if school_admin_of(request) is not None:
            filters = [f for f in filters if f != self.school_field and not str(f).startswith("school")]
        return filters

    def get_list_display(self, request):
        display = list(super().get_list_display(request))
        if school_admin_of(request) is not None and self.school_field:
            display = [d for d in display if d != self.school_field]
        return display


class SchoolScopedAdmin(SchoolScopedMixin, admin.ModelAdmin):
    pass


class SchoolScopedInline(SchoolScopedMixin, admin.TabularInline):
    school_field = None
    extra = 0


def school_of(obj) -> School | None:
    """The school of any object the admin shows (used by tests and by list columns)."""
    value = obj
    for part in school_path(type(obj)).split("__"):
        if part == "pk":
            return value
        value = getattr(value, part)
    return value
