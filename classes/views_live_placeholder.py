from django.http import HttpResponse
from django.shortcuts import render

from .access import get_session_for_user, role_required
from .models import Role
from .services import JoinRefused, check_can_stream


@role_required(Role.STUDENT)
def join(request, session_uuid):
    session = get_session_for_user(request.user, session_uuid)
    try:
        check_can_stream(request.user, session)
    except JoinRefused as refusal:
        return render(request, "live/join_refused.html", {"session": session, "refusal": refusal}, status=403)
    return HttpResponse(f"You may join {session.title}. The streaming page is coming soon.")


@role_required(Role.TEACHER, Role.ADMIN)
def dashboard(request, session_uuid):
    session = get_session_for_user(request.user, session_uuid, manage=True)
    return HttpResponse(f"Dashboard of {session.title} is coming soon.")
