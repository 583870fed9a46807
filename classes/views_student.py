"""Students' pages: their classes and live sessions, and their camera-analysis consent."""

import re
from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from . import services
from .access import role_required
from .forms import ConsentForm
from .models import Role


def student_only(view):
    """Students of a school only: operators pass `role_required` but have no classes or consent of their own."""

    @role_required(Role.STUDENT)
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_student:
            raise PermissionDenied(_("This page is for students."))
        return view(request, *args, **kwargs)

    return wrapped


@student_only
def student_home(request):
    student = request.user
    classes = services.classes_of_student(student)
    upcoming = sorted(
        (c.next_session for c in classes if c.next_session), key=lambda s: (s.scheduled_start, s.pk)
    )
    return render(
        request,
        "student/home.html",
        {
            "classes": classes,
            "live_sessions": [s for c in classes for s in c.live_sessions],
            "upcoming": upcoming,
            "consent": services.consent_status(student),
        },
    )


@student_only
def consent(request):
    student = request.user
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, require_https=request.is_secure()):
        next_url = ""
    form = ConsentForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            services.record_consent(student, granted=form.granted)
            if form.granted:
                messages.success(request, _("Thank you. Your camera can be analysed during live lessons."))
            else:
                messages.success(
                    request,
                    _("Recorded: your camera will not be analysed. You can change your mind at any time."),
                )
            return redirect(next_url if next_url and form.granted else "consent")
        messages.error(request, _("Choose “I agree” or “I do not agree”."))
    policy = services.current_policy(student.school)
    # Policy text is hard-wrapped; blank lines separate paragraphs, single newlines are just wrapping.
    paragraphs = [" ".join(block.split()) for block in re.split(r"\n\s*\n", policy.text) if block.strip()]
    return render(
        request,
        "student/consent.html",
        {
            "policy": policy,
            "policy_paragraphs": paragraphs,
            "decision": services.consent_status(student),
            "history": services.consent_history(student),
            "next": next_url,
            "presence_only": student.school.presence_only,
        },
        status=400 if request.method == "POST" else 200,
    )
