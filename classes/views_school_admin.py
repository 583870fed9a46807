"""The school admin's pages: people, classes and sessions, school settings and the consent policy.

Every page runs in the admin's school scope (set by `SchoolScopeMiddleware`), and every object is fetched
through `classes.access`, so another school's person or class is a 404. Platform operators have no school and
use the Django admin instead (403 here).
"""

from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from . import services
from .access import get_school_member_for_admin, role_required
from .forms_school_admin import ConsentPolicyForm, NewPersonForm, PersonForm, SchoolSettingsForm
from .models import Classroom, ConsentPolicy, LiveSession, Role, SessionStatus, User

PEOPLE_PER_PAGE = 50
SESSIONS_PER_PAGE = 50


def school_admin_required(view):
    @role_required(Role.ADMIN)
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_school_admin:
            raise PermissionDenied(_("These pages belong to a school; log in as one of its admins."))
        return view(request, *args, **kwargs)

    return wrapped


def _managed_member(request, user_uuid) -> User:
    """A teacher or student of the admin's school. Admin accounts are not managed here (an admin must not lock
    out another, or themselves)."""
    member = get_school_member_for_admin(request.user, user_uuid)
    if member.role not in (Role.TEACHER, Role.STUDENT):
        raise PermissionDenied(_("Admin accounts are managed by the platform operator."))
    return member


def _show_once(request, template: str, context: dict, status: int = 200):
    """Render a page carrying a temporary password; never cached, never redirected to."""
    response = render(request, template, context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET"])
@school_admin_required
def home(request):
    school = request.user.school
    people = User.in_school.filter(is_active=True).aggregate(
        teachers=Count("pk", filter=Q(role=Role.TEACHER)),
        students=Count("pk", filter=Q(role=Role.STUDENT)),
        admins=Count("pk", filter=Q(role=Role.ADMIN)),
    )
    sessions = LiveSession.objects.aggregate(
        live=Count("pk", filter=Q(status=SessionStatus.LIVE)),
        scheduled=Count("pk", filter=Q(status=SessionStatus.SCHEDULED)),
        ended=Count("pk", filter=Q(status=SessionStatus.ENDED)),
    )
    policy = services.current_policy(school)
    decisions = services.policy_decision_counts(school).get(policy.pk, {"granted": 0, "refused": 0})
    context = {
        "school": school,
        "people": people,
        "inactive_count": User.in_school.filter(is_active=False).count(),
        "class_count": Classroom.objects.count(),
        "sessions": sessions,
        "live_sessions": LiveSession.objects.filter(status=SessionStatus.LIVE)
        .select_related("classroom", "classroom__teacher")
        .order_by("started_at"),
        "policy": policy,
        "decisions": decisions,
        "undecided": max(people["students"] - decisions["granted"] - decisions["refused"], 0),
    }
    return render(request, "school_admin/home.html", context)


# --- people -------------------------------------------------------------------------------------------------


@require_http_methods(["GET"])
@school_admin_required
def people(request):
    query = request.GET.get("q", "").strip()
    role = request.GET.get("role", "")
    status = request.GET.get("status", "")
    members = User.in_school.all()
    if role in Role.values:
        members = members.filter(role=role)
    else:
        role = ""
    if status == "active":
        members = members.filter(is_active=True)
    elif status == "inactive":
        members = members.filter(is_active=False)
    else:
        status = ""
    if query:
        for word in query.split():
            members = members.filter(
                Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(username__icontains=word)
                | Q(email__icontains=word)
            )
    members = members.order_by("last_name", "first_name", "username")
    page = Paginator(members, PEOPLE_PER_PAGE).get_page(request.GET.get("page"))
    filters = request.GET.copy()
    filters.pop("page", None)
    context = {
        "page": page,
        "query": query,
        "role": role,
        "status": status,
        "roles": Role.choices,
        "filter_query": filters.urlencode(),
        "managed_roles": (Role.TEACHER, Role.STUDENT),
    }
    return render(request, "school_admin/people.html", context)


@require_http_methods(["GET", "POST"])
@school_admin_required
def person_create(request):
    school = request.user.school
    form = NewPersonForm(
        request.POST or None, school=school, initial={"role": request.GET.get("role", "student")}
    )
    if request.method == "POST" and form.is_valid():
        member, password = services.create_member_with_temporary_password(
            school,
            form.cleaned_data["role"],
            email=form.cleaned_data["email"],
            full_name=form.cleaned_data["full_name"],
        )
        return _show_once(
            request,
            "school_admin/password_shown_once.html",
            {"member": member, "password": password, "created": True},
        )
    status = 400 if request.method == "POST" else 200
    return render(request, "school_admin/person_form.html", {"form": form, "member": None}, status=status)


@require_http_methods(["GET", "POST"])
@school_admin_required
def person_edit(request, user_uuid):
    member = _managed_member(request, user_uuid)
    form = PersonForm(request.POST or None, school=request.user.school, person=member)
    if request.method == "POST" and form.is_valid():
        first, _space, last = form.cleaned_data["full_name"].partition(" ")
        member.first_name, member.last_name = first[:150], last[:150]
        member.email = form.cleaned_data["email"]
        member.save(update_fields=["first_name", "last_name", "email"])
        messages.success(request, _("Saved %(member)s.") % {"member": member})
        return redirect("school_admin_people")
    status = 400 if request.method == "POST" else 200
    return render(request, "school_admin/person_form.html", {"form": form, "member": member}, status=status)


@require_POST
@school_admin_required
def person_deactivate(request, user_uuid):
    member = _managed_member(request, user_uuid)
    services.deactivate_user(member)
    messages.success(
        request,
        _("%(member)s is deactivated and can no longer log in. Their data is kept.") % {"member": member},
    )
    return redirect("school_admin_person", user_uuid=member.uuid)


@require_POST
@school_admin_required
def person_reactivate(request, user_uuid):
    member = _managed_member(request, user_uuid)
    services.reactivate_user(member)
    messages.success(request, _("%(member)s can log in again.") % {"member": member})
    return redirect("school_admin_person", user_uuid=member.uuid)


@require_POST
@school_admin_required
def person_reset_password(request, user_uuid):
    member = _managed_member(request, user_uuid)
    password = services.reset_password(member)
    return _show_once(
        request,
        "school_admin/password_shown_once.html",
        {"member": member, "password": password, "created": False},
    )


# --- classes and sessions -----------------------------------------------------------------------------------


@require_http_methods(["GET"])
@school_admin_required
def classes(request):
    classrooms = (
        Classroom.objects.select_related("teacher")
        .annotate(
            student_count=Count("enrolments", distinct=True),
            session_count=Count("sessions", distinct=True),
        )
        .order_by("name", "pk")
    )
    status = request.GET.get("status", "")
    sessions = LiveSession.objects.select_related("classroom", "classroom__teacher")
    if status in SessionStatus.values:
        sessions = sessions.filter(status=status)
    else:
        status = ""
    sessions = sessions.order_by("-scheduled_start", "-pk")
    page = Paginator(sessions, SESSIONS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "classrooms": classrooms,
        "page": page,
        "status": status,
        "statuses": SessionStatus.choices,
        "live_sessions": LiveSession.objects.filter(status=SessionStatus.LIVE)
        .select_related("classroom", "classroom__teacher")
        .order_by("started_at"),
    }
    return render(request, "school_admin/classes.html", context)


# --- settings and consent -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@school_admin_required
def school_settings(request):
    school = request.user.school
    was_capturing = school.call_capture
    form = SchoolSettingsForm(request.POST or None, instance=school)
    if request.method == "POST" and form.is_valid():
        capture = form.cleaned_data["call_capture"]
        form.instance.call_capture = was_capturing  # changed (with its policy paragraph) by the service below
        form.save()
        messages.success(request, _("School settings saved."))
        if capture != was_capturing:
            published = services.set_call_capture(school, capture, author=request.user)
            if published is not None:
                messages.info(
                    request,
                    gettext(
                        "Reading video calls is on. Version %(version)d of the camera policy, with a paragraph "
                        "about it, is published: students are asked to consent again."
                    )
                    % {"version": published.version},
                )
            elif not capture:
                messages.info(
                    request,
                    gettext(
                        "Reading video calls is off. The camera policy still describes it; edit the policy to "
                        "remove that paragraph (students will then be asked to consent again)."
                    ),
                )
        return redirect("school_admin_settings")
    status = 400 if request.method == "POST" else 200
    context = {
        "form": form,
        "school": school,
        "retention_fields": ("retention_days", "aggregate_retention_days"),
    }
    return render(request, "school_admin/settings.html", context, status=status)


@require_http_methods(["GET", "POST"])
@school_admin_required
def consent_policy(request):
    school = request.user.school
    policy = services.current_policy(school)
    form = ConsentPolicyForm(request.POST or None, current_text=policy.text)
    if request.method == "POST" and form.is_valid():
        new = services.publish_policy(school, form.cleaned_data["text"], author=request.user)
        messages.success(
            request,
            _(
                "Version %(version)s is published. Every student must now consent again before their camera is analysed."
            )
            % {"version": new.version},
        )
        return redirect("school_admin_consent")
    counts = services.policy_decision_counts(school)
    versions = list(ConsentPolicy.objects.select_related("created_by").order_by("-version"))
    for version in versions:
        version.counts = counts.get(version.pk, {"granted": 0, "refused": 0})
    student_count = User.in_school.filter(role=Role.STUDENT, is_active=True).count()
    current = counts.get(policy.pk, {"granted": 0, "refused": 0})
    context = {
        "form": form,
        "policy": policy,
        "versions": versions,
        "student_count": student_count,
        "undecided": max(student_count - current["granted"] - current["refused"], 0),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "school_admin/consent.html", context, status=status)
