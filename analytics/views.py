"""Report pages, their JSON (the charts' data) and CSV exports. Thin: access helpers, then `reports`."""

import json
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Min
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from classes.access import get_session_for_user, role_required
from classes.models import Role, School

from . import exports, reports, services
from .access import (
    get_assignable_student,
    get_participant_for_user,
    get_report_school,
    get_student_for_user,
    get_student_session_for_user,
)
from .forms import SchoolReportFilterForm
from .models import EMOTIONS, NEGATIVE_EMOTIONS, EmotionSample, StudentSession

MANAGERS = (Role.TEACHER, Role.ADMIN)


def _json(data) -> JsonResponse:
    return JsonResponse(data, json_dumps_params={"separators": (",", ":")})


def _emotion_context(presence_only: bool) -> dict:
    return {
        "presence_only": presence_only,
        "emotions": reports.emotion_names(presence_only),
        "negative_emotions": () if presence_only else NEGATIVE_EMOTIONS,
    }


# --- session report ------------------------------------------------------------------------------------------


@role_required(*MANAGERS)
def session_report(request, session_uuid):
    session = get_session_for_user(request.user, session_uuid, manage=True)
    summary = reports.session_summary(session, sparklines=False)
    # The "assign to student" choices, only when there is someone to assign.
    candidates = services.assignment_candidates(session) if summary["participants"] else []
    return render(
        request,
        "analytics/session_report.html",
        {
            "session": session,
            "summary": summary,
            "candidates": candidates,
            **_emotion_context(summary["presence_only"]),
        },
    )


def _participant_json(participant) -> dict:
    student = participant.student
    return {
        "uuid": str(participant.uuid),
        "number": participant.number,
        "name": participant.label,
        "student": {"uuid": str(student.uuid), "name": str(student)} if student else None,
    }


@require_POST
@role_required(*MANAGERS)
def assign_participant(request, session_uuid, participant_uuid):
    """Say which enrolled student a call participant is (`student`: a student's uuid), or make it anonymous again
    (`student` empty). Form posts (the session report) are redirected back with a message; JSON posts (the live
    dashboard: `{"student": uuid | null}`) get `{"participant": {...}}`, or 409 `{"code", "message"}` when the
    assignment is refused (no consent, not enrolled), 400 for a malformed body, 404 for an unknown student."""
    participant = get_participant_for_user(request.user, session_uuid, participant_uuid)
    session = participant.session
    wants_json = request.content_type == "application/json"
    if wants_json:
        try:
            student_uuid = json.loads(request.body or b"{}")["student"]
        except (ValueError, KeyError, TypeError):  # not JSON, not an object, no "student"
            student_uuid = False
        if student_uuid is not None and not isinstance(student_uuid, str):
            return JsonResponse(
                {"code": "bad_request", "message": gettext('Send {"student": "<student uuid>"} or null.')},
                status=400,
            )
    else:
        student_uuid = request.POST.get("student", "")
    student = get_assignable_student(session, student_uuid) if student_uuid else None
    try:
        participant = services.assign_participant(participant, student, by=request.user)
    except services.AssignmentRefused as refusal:
        if wants_json:
            return JsonResponse({"code": refusal.code, "message": refusal.message}, status=409)
        messages.error(request, refusal.message)
    else:
        if wants_json:
            return JsonResponse({"participant": _participant_json(participant)})
        if student is None:
            messages.success(
                request,
                gettext("%(participant)s is anonymous again.") % {"participant": participant.anonymous_label},
            )
        else:
            messages.success(
                request,
                gettext("%(participant)s is now stored as %(student)s.")
                % {"participant": participant.anonymous_label, "student": student},
            )
    return redirect(f"{reverse('session_report', args=[session.uuid])}#participants")


@role_required(*MANAGERS)
def session_report_data(request, session_uuid):
    session = get_session_for_user(request.user, session_uuid, manage=True)
    return _json(reports.session_summary(session))


@role_required(*MANAGERS)
def session_report_csv(request, session_uuid):
    session = get_session_for_user(request.user, session_uuid, manage=True)
    rows = request.GET.get("rows", "minutes")
    if rows == "students":
        return exports.session_students_csv(session, reports.session_summary(session, sparklines=False))
    if rows == "timeline":
        return exports.session_timeline_csv(session, reports.session_summary(session, sparklines=False))
    if rows == "participants":
        return exports.session_participants_csv(session, reports.session_summary(session, sparklines=False))
    if rows != "minutes":
        raise Http404(_("Unknown export; choose rows=minutes, students, participants or timeline."))
    return exports.session_minutes_csv(session, reports.student_minute_rows(session))


# --- student history -----------------------------------------------------------------------------------------


@login_required
def student_history(request, student_uuid):
    access = get_student_for_user(request.user, student_uuid)
    history = reports.student_history(access.student, classrooms=access.classrooms)
    return render(
        request,
        "analytics/student_history.html",
        {
            "student": access.student,
            "history": history,
            "limited_to": access.classrooms,
            "is_self": access.student.pk == request.user.pk,
            **_emotion_context(history["presence_only"]),
        },
    )


@login_required
def student_history_data(request, student_uuid):
    access = get_student_for_user(request.user, student_uuid)
    return _json(reports.student_history(access.student, classrooms=access.classrooms))


@login_required
def student_history_csv(request, student_uuid):
    access = get_student_for_user(request.user, student_uuid)
    return exports.student_history_csv(
        access.student, reports.student_history(access.student, classrooms=access.classrooms)
    )


@login_required
def student_session(request, student_uuid, session_uuid):
    access, session = get_student_session_for_user(request.user, student_uuid, session_uuid)
    series = reports.student_session_series(access.student, session)
    return render(
        request,
        "analytics/student_session.html",
        {
            "student": access.student,
            "session": session,
            "series": series,
            "can_see_class": request.user.is_superuser
            or (request.user.role in MANAGERS and request.user.school_id == session.classroom.school_id),
            **_emotion_context(series["presence_only"]),
        },
    )


@login_required
def student_session_data(request, student_uuid, session_uuid):
    access, session = get_student_session_for_user(request.user, student_uuid, session_uuid)
    return _json(reports.student_session_series(access.student, session))


# --- school report -------------------------------------------------------------------------------------------


def _school_and_filters(request):
    school = get_report_school(request.user, request.GET.get("school"))
    if school is None:
        return None, None, None
    form = SchoolReportFilterForm(request.GET, school=school)
    return school, form, form.filters()


@role_required(Role.ADMIN)
def school_report(request):
    school, form, filters = _school_and_filters(request)
    if school is None:
        return render(request, "analytics/school_choose.html", {"schools": School.objects.order_by("name")})
    report = reports.school_report(school, filters)
    query = request.GET.urlencode()
    return render(
        request,
        "analytics/school_report.html",
        {
            "school": school,
            "form": form,
            "report": report,
            "query": query,
            "data_url": f"{reverse('school_report_data')}?{query}",
            **_emotion_context(report["presence_only"]),
        },
    )


@role_required(Role.ADMIN)
def school_report_data(request):
    school, _form, filters = _school_and_filters(request)
    if school is None:
        raise Http404(_("Choose a school with ?school=<uuid>."))
    return _json(reports.school_report(school, filters))


@role_required(Role.ADMIN)
def school_report_csv(request):
    school, _form, filters = _school_and_filters(request)
    if school is None:
        raise Http404(_("Choose a school with ?school=<uuid>."))
    return exports.school_sessions_csv(school, filters)


# --- my data -------------------------------------------------------------------------------------------------


@login_required
def my_data(request):
    """What fermonitor keeps about the student who asks, and until when."""
    user = request.user
    if not user.is_student:
        raise PermissionDenied(_("Only students have emotion data; this page shows a student's own."))
    school = user.school
    raw = {
        row["session_id"]: row
        for row in EmotionSample.objects.filter(student=user)
        .values("session_id")
        .annotate(samples=Count("id"), first=Min("captured_at"), last=Max("captured_at"))
        .order_by()
    }
    sessions = []
    for total in (
        StudentSession.objects.filter(student=user)
        .select_related("session__classroom")
        .order_by("-first_minute")
    ):
        kept = raw.get(total.session_id)
        sessions.append(
            {
                "session": total.session,
                "minutes": total.minutes_seen,
                "samples": kept["samples"] if kept else 0,
                "raw_until": (kept["first"] + timedelta(days=school.retention_days)) if kept else None,
                "aggregates_until": total.last_minute + timedelta(days=school.aggregate_retention_days),
            }
        )
    return render(
        request,
        "analytics/my_data.html",
        {
            "school": school,
            "sessions": sessions,
            "total_samples": sum(r["samples"] for r in raw.values()),
            **_emotion_context(school.presence_only),
            "all_emotions": () if school.presence_only else EMOTIONS,
        },
    )
