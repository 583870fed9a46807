"""Pages of a live session: the student's join page and the teacher's dashboard (both talk to `classes.live`)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import services
from .access import get_session_for_user, role_required
from .live import receivers  # noqa: F401 - session start/end reach the live sockets
from .models import Role
from .services import JoinRefused, TransitionError, check_can_stream


@role_required(Role.STUDENT)
def join(request, session_uuid):
    session = get_session_for_user(request.user, session_uuid)
    try:
        check_can_stream(request.user, session)
    except JoinRefused as refusal:
        return render(request, "live/join_refused.html", {"session": session, "refusal": refusal}, status=403)
    school = session.classroom.school
    return render(
        request,
        "live/join.html",
        {
            "session": session,
            "presence_only": school.presence_only,
            "policy": services.current_policy(school),
        },
    )


@role_required(Role.TEACHER, Role.ADMIN)
def dashboard(request, session_uuid):
    session = get_session_for_user(request.user, session_uuid, manage=True)
    return render(
        request,
        "live/dashboard.html",
        {"session": session, "presence_only": session.classroom.school.presence_only},
    )


@require_POST
@role_required(Role.TEACHER, Role.ADMIN)
def start(request, session_uuid):
    session = get_session_for_user(request.user, session_uuid, manage=True)
    try:
        services.start_session(session)
        messages.success(request, f"“{session.title}” is live. Students can join now.")
    except TransitionError as error:
        messages.error(request, error.message)
    return redirect("live_dashboard", session_uuid=session.uuid)


@require_POST
@role_required(Role.TEACHER, Role.ADMIN)
def end(request, session_uuid):
    session = get_session_for_user(request.user, session_uuid, manage=True)
    try:
        services.end_session(session)
        messages.success(request, f"“{session.title}” has ended. Students' cameras were stopped.")
    except TransitionError as error:
        messages.error(request, error.message)
    return redirect("live_dashboard", session_uuid=session.uuid)
