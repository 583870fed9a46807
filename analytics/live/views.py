"""Pages of a live session: the student's join page and the teacher's dashboard (their sockets are in `consumers`)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from analytics.services import assignment_candidates
from classes import services
from classes.access import can_manage_classroom, get_session_for_user, role_required
from classes.models import Role
from classes.services import JoinRefused, TransitionError, check_can_stream

# A placeholder the dashboard's script replaces with a participant's uuid to build its assignment URL.
PARTICIPANT_PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


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


def capture_refusal(user, session) -> str:
    """Why `user` cannot read this session's video call from the dashboard ("" if they can); the capture socket
    checks the same (`store.open_capture`)."""
    if user.school_id is None or user.role not in (Role.TEACHER, Role.ADMIN):
        return gettext("Only the class's teacher and the school's admins can read the class's video call.")
    if not can_manage_classroom(user, session.classroom):
        return gettext("Only the class's teacher and the school's admins can read the class's video call.")
    if not session.classroom.school.call_capture:
        return gettext(
            "Your school has not turned on reading video calls. A school admin can turn it on in the school "
            "settings."
        )
    return ""


@role_required(Role.TEACHER, Role.ADMIN)
def dashboard(request, session_uuid):
    session = get_session_for_user(request.user, session_uuid, manage=True)
    school = session.classroom.school
    context = {
        "session": session,
        "presence_only": school.presence_only,
        "call_capture": school.call_capture,
        "capture_refusal": capture_refusal(request.user, session),
        # For the participant cards' "Assign to student" control (participants may exist from earlier captures).
        "candidates": assignment_candidates(session),
        "assign_url": reverse("assign_participant", args=[session.uuid, PARTICIPANT_PLACEHOLDER]),
        "participant_placeholder": PARTICIPANT_PLACEHOLDER,
    }
    return render(request, "live/dashboard.html", context)


@require_POST
@role_required(Role.TEACHER, Role.ADMIN)
def start(request, session_uuid):
    session = get_session_for_user(request.user, session_uuid, manage=True)
    try:
        services.start_session(session)
        messages.success(request, _("“%(title)s” is live. Students can join now.") % {"title": session.title})
    except TransitionError as error:
        messages.error(request, error.message)
    return redirect("live_dashboard", session_uuid=session.uuid)


@require_POST
@role_required(Role.TEACHER, Role.ADMIN)
def end(request, session_uuid):
    session = get_session_for_user(request.user, session_uuid, manage=True)
    try:
        services.end_session(session)
        messages.success(
            request, _("“%(title)s” has ended. Students' cameras were stopped.") % {"title": session.title}
        )
    except TransitionError as error:
        messages.error(request, error.message)
    return redirect("live_dashboard", session_uuid=session.uuid)
