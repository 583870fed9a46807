"""The Django admin, open to platform operators (superusers, every school) and to school admins (their own school
only: the request already runs in their school's scope, and `SchoolScopedAdmin` filters the unscoped User and
School models, every FK/M2M choice, and sets the hidden `school` field itself)."""

import re
import uuid

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.admin.views.main import ChangeList
from django.contrib.contenttypes.models import ContentType
from django.contrib.contenttypes.views import shortcut
from django.db import models
from django.http import Http404, HttpResponseRedirect
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from . import admin_ids
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

    def get_urls(self):
        # Django's "view on site" shortcut looks the object up with the unscoped base manager: another school's
        # object answered differently from a missing one, and sequential ids could be counted. Ours looks it up
        # through the model's admin (the school admin's own rows, by UUID where the model has one).
        return [
            path(
                "r/<int:content_type_id>/<path:object_id>/",
                self.admin_view(self.view_on_site),
                name="view_on_site",
            ),
            *super().get_urls(),
        ]

    def view_on_site(self, request, content_type_id, object_id):
        not_found = Http404(_("No such object."))
        content_type = ContentType.objects.filter(pk=content_type_id).first()
        model = content_type.model_class() if content_type is not None else None
        model_admin = self._registry.get(model)
        if model_admin is None:
            raise not_found
        obj = model_admin.get_object(request, object_id)
        if obj is None or not model_admin.has_view_or_change_permission(request, obj):
            raise not_found
        if not hasattr(obj, "get_absolute_url"):
            raise not_found  # the same answer as for a missing object
        return shortcut(request, content_type_id, obj.pk)


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
    "analytics.callparticipant": "session__classroom__school",
    "analytics.participantminute": "session__classroom__school",
    "live.recordingjob": "classroom__school",
    "lms.apikey": "school",
    "lms.webhook": "school",
    "lms.delivery": "school",
    "lms.lrssettings": "school",
    "lms.ltikey": "school",
    "lms.ltiregistration": "school",
    "lms.ltilogin": "registration__school",
    "lms.ltiidentity": "school",
    "lms.lticourse": "school",
    "lms.ltilaunch": "registration__school",
    "lms.ltiattendancepost": "course__school",
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


def admin_object_id(obj) -> str:
    """What the admin puts in an object's URLs: its UUID where the model has one, else a keyed permutation of its
    primary key (admin_ids.py). Never the pk itself: sequential ids would tell how many rows every school has
    together."""
    value = getattr(obj, "uuid", None)
    return str(value) if isinstance(value, uuid.UUID) else admin_ids.encode(obj._meta.label_lower, obj.pk)


def has_uuid(model) -> bool:
    return any(field.name == "uuid" for field in model._meta.fields)


def id_lookup(model, value) -> dict | None:
    """The filter that finds the row an admin id names (a UUID, or an admin_ids token for a model without one),
    or None when the value cannot be such an id (a bare pk, garbage)."""
    if has_uuid(model):
        try:
            return {"uuid": uuid.UUID(str(value))}
        except ValueError:
            return None
    pk = admin_ids.decode(model._meta.label_lower, str(value))
    return None if pk is None else {"pk": pk}


def visible_pks(model_admin, request, values) -> list[int]:
    """The pks of the rows, among those named by admin ids, that this admin shows the user."""
    model = model_admin.model
    lookups = [lookup for lookup in (id_lookup(model, value) for value in values) if lookup is not None]
    if not lookups:
        return []
    field = "uuid" if has_uuid(model) else "pk"
    wanted = [lookup[field] for lookup in lookups]
    return list(
        model_admin.get_queryset(request).filter(**{f"{field}__in": wanted}).values_list("pk", flat=True)
    )


def _read_only_link(self, remote_field, remote_obj):
    """`AdminReadonlyField.get_admin_url` with the admin id in place of the pk."""
    opts = remote_field.model._meta
    try:
        url = reverse(
            f"admin:{opts.app_label}_{opts.model_name}_change",
            args=[quote(admin_object_id(remote_obj))],
            current_app=self.model_admin.admin_site.name,
        )
    except NoReverseMatch:
        return str(remote_obj)
    return format_html('<a href="{}">{}</a>', url, remote_obj)


def link_read_only_relations_by_admin_id() -> None:
    """A read-only foreign key (every field of a sample, a minute, a consent, a delivery) is shown as a link that
    Django builds from the related row's pk: a sequential id in the page, and for a model addressed by UUID a link
    that finds nothing. Django has no per-admin hook for it, so ClassesConfig.ready() swaps the one method."""
    from django.contrib.admin import helpers

    helpers.AdminReadonlyField.get_admin_url = _read_only_link


class UuidModelChoiceField(forms.ModelChoiceField):
    """Choices valued by UUID. A change form's initial value is the foreign key's pk (model_to_dict), so it is
    turned into the UUID here, or the current choice would not show as selected."""

    def prepare_value(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            value = self.queryset.model._base_manager.filter(pk=value).values_list("uuid", flat=True).first()
        return super().prepare_value(value)


def uuid_choice_field(formfield):
    """Turn an admin foreign-key field into one valued by UUID (and without the related-object popups, which
    address the related object by pk)."""
    if formfield is None or not isinstance(formfield, forms.ModelChoiceField):
        return formfield
    field = UuidModelChoiceField(
        formfield.queryset,
        to_field_name="uuid",
        required=formfield.required,
        label=formfield.label,
        help_text=formfield.help_text,
        empty_label=formfield.empty_label,
        initial=formfield.initial,
        limit_choices_to=formfield.get_limit_choices_to(),
    )
    return field


def _log_entry(request, obj, flag, message=""):
    import json

    from django.contrib.admin.models import LogEntry

    return LogEntry.objects.create(
        user_id=request.user.pk,
        content_type_id=ContentType.objects.get_for_model(obj, for_concrete_model=False).pk,
        object_id=admin_object_id(obj),
        object_repr=str(obj)[:200],
        action_flag=flag,
        change_message=json.dumps(message) if isinstance(message, list) else message,
    )


class UuidChangeList(ChangeList):
    def url_for_result(self, result):
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
            args=(quote(admin_object_id(result)),),
            current_app=self.model_admin.admin_site.name,
        )


class UuidUrlsMixin:
    """Admin URLs (change, history, delete, "view on site", the log) and selection boxes address objects by UUID
    where the model has one, else by its admin_ids token; foreign-key choices carry UUIDs too, so the
    related-object links built from them work. A pk is never accepted in a URL, so ids cannot be counted or
    probed."""

    def get_object(self, request, object_id, from_field=None):
        if from_field is not None:
            return super().get_object(request, object_id, from_field)
        lookup = id_lookup(self.model, object_id)
        return None if lookup is None else self.get_queryset(request).filter(**lookup).first()

    def get_changelist(self, request, **kwargs):
        return UuidChangeList

    def action_checkbox(self, obj):
        # The changelist's selection boxes (and the delete confirmation) carry the UUID as well.
        from django import forms
        from django.contrib.admin import helpers
        from django.utils.html import format_html

        attrs = {
            "class": "action-select",
            "aria-label": format_html(_("Select this object for an action - {}"), str(obj)),
        }
        checkbox = forms.CheckboxInput(attrs, lambda value: False)
        return checkbox.render(helpers.ACTION_CHECKBOX_NAME, admin_object_id(obj))

    def response_action(self, request, queryset):
        from django.contrib.admin import helpers

        pks = visible_pks(self, request, request.POST.getlist(helpers.ACTION_CHECKBOX_NAME))
        request.POST = request.POST.copy()
        request.POST.setlist(helpers.ACTION_CHECKBOX_NAME, [str(pk) for pk in pks])
        return super().response_action(request, queryset)

    def get_view_on_site_url(self, obj=None):
        url = super().get_view_on_site_url(obj)
        if url is None or callable(self.view_on_site):
            return url
        return reverse(
            "admin:view_on_site",
            kwargs={
                "content_type_id": ContentType.objects.get_for_model(obj).pk,
                "object_id": admin_object_id(obj),
            },
            current_app=self.admin_site.name,
        )

    def _uuid_redirect(self, response, obj):
        # Django builds "save and continue editing" and "save and add another" redirects from obj.pk.
        if isinstance(response, HttpResponseRedirect):
            pk_segment = f"/{quote(str(obj.pk))}/"
            if pk_segment in response["Location"]:
                response["Location"] = response["Location"].replace(
                    pk_segment, f"/{admin_object_id(obj)}/", 1
                )
        return response

    def response_add(self, request, obj, post_url_continue=None):
        return self._uuid_redirect(super().response_add(request, obj, post_url_continue), obj)

    def response_change(self, request, obj):
        return self._uuid_redirect(super().response_change(request, obj), obj)

    def message_user(self, request, message, *args, **kwargs):
        # The success message links to the object's change page, built from its pk.
        obj = getattr(request, "_admin_object", None)
        if obj is not None:
            message = re.sub(
                rf"/{re.escape(quote(str(obj.pk)))}/change/", f"/{admin_object_id(obj)}/change/", str(message)
            )
        return super().message_user(request, message, *args, **kwargs)

    def save_model(self, request, obj, form, change):
        request._admin_object = obj
        super().save_model(request, obj, form, change)

    # The log ("Recent actions", history) links to objects by the id it stored: store the UUID.
    def log_addition(self, request, obj, message):
        from django.contrib.admin.models import ADDITION

        return _log_entry(request, obj, ADDITION, message)

    def log_change(self, request, obj, message):
        from django.contrib.admin.models import CHANGE

        return _log_entry(request, obj, CHANGE, message)

    def log_deletions(self, request, queryset):
        from django.contrib.admin.models import DELETION

        return [_log_entry(request, obj, DELETION) for obj in queryset]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        return _uuid_foreign_key(db_field, super().formfield_for_dbfield(db_field, request, **kwargs))


def _uuid_foreign_key(db_field, formfield):
    if (
        isinstance(db_field, models.ForeignKey)
        and has_uuid(db_field.remote_field.model)
        and isinstance(formfield, forms.ModelChoiceField)
    ):
        return uuid_choice_field(formfield)
    return formfield


class SchoolScopedAdmin(UuidUrlsMixin, SchoolScopedMixin, admin.ModelAdmin):
    pass


class SchoolScopedInline(SchoolScopedMixin, admin.TabularInline):
    school_field = None
    extra = 0

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        return _uuid_foreign_key(db_field, super().formfield_for_dbfield(db_field, request, **kwargs))


def school_of(obj) -> School | None:
    """The school of any object the admin shows (used by tests and by list columns)."""
    value = obj
    for part in school_path(type(obj)).split("__"):
        if part == "pk":
            return value
        value = getattr(value, part)
    return value
