"""The school admin's LTI settings on the Integrations page: LMS registrations (added, completed, switched off,
removed) with the values to paste into Moodle and Canvas, and the tool's signing key (rotated here)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from ..models import LtiPlatformKind, LtiRegistration
from ..views import school_admin_required
from . import keys, services
from .forms import RegistrationForm


def _detail_context(request, registration, form) -> dict:
    return {
        "registration": registration,
        "form": form,
        "urls": services.tool_urls(request, registration),
        "kinds": LtiPlatformKind,
    }


@require_http_methods(["GET", "POST"])
@school_admin_required
def registration_create(request):
    school = request.user.school
    form = RegistrationForm(request.POST or None, school=school)
    if request.method == "POST" and form.is_valid():
        registration = form.save(commit=False)
        registration.school = school
        registration.created_by = request.user
        registration.save()
        keys.current_key(school)
        messages.success(
            request,
            _(
                "LMS registration added. Paste the values below into your LMS, then fill in what it shows you back."
            ),
        )
        return redirect("lti_registration", registration_uuid=registration.uuid)
    return render(
        request, "lti/registration_form.html", {"form": form}, status=400 if request.method == "POST" else 200
    )


@require_http_methods(["GET", "POST"])
@school_admin_required
def registration_detail(request, registration_uuid):
    registration = get_object_or_404(LtiRegistration.objects, uuid=registration_uuid)
    form = RegistrationForm(request.POST or None, instance=registration, school=request.user.school)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, _("LMS registration saved."))
            return redirect("lti_registration", registration_uuid=registration.uuid)
        registration.refresh_from_db()
    return render(
        request,
        "lti/registration_detail.html",
        _detail_context(request, registration, form),
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@school_admin_required
def registration_delete(request, registration_uuid):
    registration = get_object_or_404(LtiRegistration.objects, uuid=registration_uuid)
    registration.delete()
    messages.success(
        request,
        _("“%(name)s” removed: its launches are refused from now on. Its users and classes stay.")
        % {"name": registration.name},
    )
    return redirect("api_integrations")


@require_POST
@school_admin_required
def key_rotate(request):
    key = keys.rotate(request.user.school)
    messages.success(
        request,
        _("New signing key %(kid)s. The previous key stays published for 7 days, then is deleted.")
        % {"kid": key.kid[:12]},
    )
    return redirect("api_integrations")
