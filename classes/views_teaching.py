"""Teachers' pages (school admins may use them for any class of their school): classes, rosters, sessions."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from . import services, signals
from .access import get_classroom_for_user, get_session_for_user, role_required
from .forms import ClassroomForm, CsvImportForm, EnrolForm, SessionForm
from .models import Classroom, Enrolment, Role

teaching = role_required(Role.TEACHER, Role.ADMIN)


def _data(request):
    """The POST data of a submitted form (even an empty one, so the form reports what is missing); None on GET."""
    return request.POST if request.method == "POST" else None


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


# --- classes ------------------------------------------------------------------------------------------------


@teaching
def teacher_home(request):
    classes = services.classes_managed_by(request.user)
    return render(
        request,
        "teaching/home.html",
        {
            "classes": classes,
            "live_sessions": [s for c in classes for s in c.live_sessions],
            "school_wide": request.user.role == Role.ADMIN or request.user.is_superuser,
            "can_create": request.user.school_id is not None,
        },
    )


@teaching
def classroom_create(request):
    user = request.user
    if user.school_id is None:
        raise PermissionDenied(
            _("Classes belong to a school; platform operators create them in the admin site.")
        )
    is_admin = user.role == Role.ADMIN
    form = ClassroomForm(_data(request), school=user.school, with_teacher=is_admin)
    if request.method == "POST" and form.is_valid():
        teacher = form.cleaned_data["teacher"] if is_admin else user
        classroom = services.create_classroom(
            user.school, teacher, name=form.cleaned_data["name"], subject=form.cleaned_data["subject"]
        )
        messages.success(
            request, _("Class “%(name)s” created. Enrol students next.") % {"name": classroom.name}
        )
        return redirect("classroom_detail", classroom_uuid=classroom.uuid)
    return render(request, "teaching/classroom_form.html", {"form": form, "classroom": None})


@teaching
def classroom_edit(request, classroom_uuid):
    classroom = get_classroom_for_user(request.user, classroom_uuid, manage=True)
    with_teacher = request.user.role == Role.ADMIN or request.user.is_superuser
    form = ClassroomForm(
        _data(request), instance=classroom, school=classroom.school, with_teacher=with_teacher
    )
    if request.method == "POST" and form.is_valid():
        if with_teacher:
            classroom.teacher = form.cleaned_data["teacher"]
        form.save()
        messages.success(request, _("Class saved."))
        return redirect("classroom_detail", classroom_uuid=classroom.uuid)
    return render(request, "teaching/classroom_form.html", {"form": form, "classroom": classroom})


@teaching
def classroom_detail(request, classroom_uuid):
    classroom = get_classroom_for_user(request.user, classroom_uuid, manage=True)
    return _render_classroom(request, classroom, EnrolForm(candidates=services.enrolable_students(classroom)))


def _render_classroom(request, classroom, enrol_form, status=200):
    enrolments = Enrolment.objects.filter(classroom=classroom).select_related("student")
    roster = sorted(enrolments, key=lambda e: (e.student.last_name, e.student.first_name, e.student.username))
    return render(
        request,
        "teaching/classroom_detail.html",
        {
            "classroom": classroom,
            "sessions": services.sessions_of_class(classroom),
            "roster": roster,
            "enrol_form": enrol_form,
            "panels": [
                panel
                for _receiver, panel in signals.classroom_page.send(
                    sender=Classroom, request=request, classroom=classroom
                )
                if panel
            ],
        },
        status=status,
    )


# --- roster -------------------------------------------------------------------------------------------------


@require_POST
@teaching
def classroom_enrol(request, classroom_uuid):
    classroom = get_classroom_for_user(request.user, classroom_uuid, manage=True)
    form = EnrolForm(request.POST, candidates=services.enrolable_students(classroom))
    if not form.is_valid():
        return _render_classroom(request, classroom, form, status=400)
    added = services.enrol_students(classroom, form.cleaned_data["students"])
    messages.success(
        request,
        ngettext("Enrolled %(count)d student.", "Enrolled %(count)d students.", added) % {"count": added},
    )
    return redirect("classroom_detail", classroom_uuid=classroom.uuid)


@require_POST
@teaching
def classroom_unenrol(request, classroom_uuid, student_uuid):
    classroom = get_classroom_for_user(request.user, classroom_uuid, manage=True)
    enrolment = get_object_or_404(
        Enrolment.objects.select_related("student"), classroom=classroom, student__uuid=student_uuid
    )
    services.unenrol_student(classroom, enrolment.student)
    messages.success(
        request,
        _("%(student)s is no longer enrolled. Their past results stay in the class's reports.")
        % {"student": enrolment.student},
    )
    return redirect("classroom_detail", classroom_uuid=classroom.uuid)


@teaching
def classroom_import(request, classroom_uuid):
    classroom = get_classroom_for_user(request.user, classroom_uuid, manage=True)
    form = CsvImportForm(_data(request), request.FILES if request.method == "POST" else None)
    report = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > services.MAX_CSV_BYTES:
            form.add_error("file", "The file is larger than 1 MB. Split it and upload the parts.")
        else:
            report = services.import_students_csv(classroom, upload.read())
            form = CsvImportForm()
    return render(
        request,
        "teaching/classroom_import.html",
        {"classroom": classroom, "form": form, "report": report},
        status=400 if request.method == "POST" and report is None else 200,
    )


# --- sessions -----------------------------------------------------------------------------------------------


@teaching
def session_create(request, classroom_uuid):
    classroom = get_classroom_for_user(request.user, classroom_uuid, manage=True)
    form = SessionForm(_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            session = services.schedule_session(classroom, **form.session_fields())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("“%(title)s” scheduled for %(when)s.") % {"title": session.title, "when": _when(session)},
            )
            return redirect("classroom_detail", classroom_uuid=classroom.uuid)
    return render(
        request, "teaching/session_form.html", {"form": form, "classroom": classroom, "session": None}
    )


@teaching
def session_edit(request, session_uuid):
    session = get_session_for_user(request.user, session_uuid, manage=True)
    classroom = session.classroom
    if not session.is_upcoming:
        messages.error(
            request,
            _("“%(title)s” is %(lower)s; only scheduled sessions can be edited.")
            % {"title": session.title, "lower": session.get_status_display().lower()},
        )
        return redirect("classroom_detail", classroom_uuid=classroom.uuid)
    form = SessionForm(_data(request), instance=session)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_scheduled_session(session, **form.session_fields())
        except services.TransitionError as error:
            messages.error(request, _error_text(error))
            return redirect("classroom_detail", classroom_uuid=classroom.uuid)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("“%(title)s” saved.") % {"title": session.title})
            return redirect("classroom_detail", classroom_uuid=classroom.uuid)
    return render(
        request, "teaching/session_form.html", {"form": form, "classroom": classroom, "session": session}
    )


def _when(session):
    return formats.date_format(timezone.localtime(session.scheduled_start), "D j M Y, H:i")


def _transition_view(operation, success):
    """A POST button that moves a session through the state machine, with the refusal as a message."""

    @require_POST
    @teaching
    def view(request, session_uuid):
        session = get_session_for_user(request.user, session_uuid, manage=True)
        try:
            operation(session)
        except services.TransitionError as error:
            messages.error(request, _error_text(error))
            return redirect("classroom_detail", classroom_uuid=session.classroom.uuid)
        messages.success(request, success.format(title=session.title))
        if session.is_live:
            return redirect("live_dashboard", session_uuid=session.uuid)
        return redirect("classroom_detail", classroom_uuid=session.classroom.uuid)

    return view


session_start = _transition_view(services.start_session, "“{title}” is live. Students can join now.")
session_end = _transition_view(
    services.end_session, "“{title}” has ended. Students' cameras were stopped; the report is ready."
)
session_cancel = _transition_view(services.cancel_session, "“{title}” was cancelled.")
