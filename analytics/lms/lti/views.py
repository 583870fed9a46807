"""LTI endpoints.

Called by the LMS (no fermonitor login): OIDC login initiation, launch, the tool's JWKS and Canvas's JSON
configuration, each under the registration's UUID. Then the launched person's pages: entering the launch (in the
LMS's frame or in a new window), a student's lesson (join page or "no live lesson now"), the teacher's deep-linking
picker. Then the class page's LTI buttons: roster sync, gradebook switch, sending a lesson's attendance.
"""

import logging

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from pylti1p3.exception import LtiException, OIDCException

from classes.access import get_classroom_for_user, get_session_for_user, role_required
from classes.models import LiveSession, Role
from classes.tenancy import school_scope

from ..models import LtiCourse, LtiLaunch, LtiRegistration
from . import claims, keys, services
from .framing import SESSION_KEY, allow_frames
from .tool import LaunchRefused, ToolLaunch, ToolLogin, explain

logger = logging.getLogger(__name__)

AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _registration(registration_uuid) -> LtiRegistration:
    # Called by the LMS without a fermonitor login, so no school scope yet: the UUID picks the registration, and
    # with it the one school everything after this runs in.
    registration = (
        LtiRegistration.objects.with_scopes_disabled()
        .select_related("school")
        .filter(uuid=registration_uuid)
        .first()
    )
    if registration is None:
        raise Http404(_("This LTI registration does not exist (any more)."))
    return registration


def _refused(request, refusal: LaunchRefused, origins=()):
    logger.info("LTI launch refused (%s): %s", refusal.status, refusal.message)
    response = render(request, "lti/error.html", {"message": refusal.message}, status=refusal.status)
    return allow_frames(response, origins)


def _usable(registration: LtiRegistration) -> LaunchRefused | None:
    if not registration.is_active:
        return LaunchRefused(
            _("This LMS registration is switched off on fermonitor. Ask your school's administrator.")
        )
    if not registration.is_complete:
        return LaunchRefused(
            _(
                "This LMS registration is not complete on fermonitor (missing: %(fields)s). Ask your school's "
                "administrator to finish it on the Integrations page."
            )
            % {"fields": ", ".join(registration.missing_fields)}
        )
    return None


# --- called by the LMS ----------------------------------------------------------------------------------------


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def login(request, registration_uuid):
    """OIDC third-party login initiation: check the issuer and client, then send the browser to the platform's
    authentication endpoint with a fresh state (also set as a cookie) and nonce. Inside a frame, a page first
    checks that the browser keeps cookies there, and offers a new window if it does not."""
    registration = _registration(registration_uuid)
    origins = registration.frame_origins()
    with school_scope(registration.school_id):
        problem = _usable(registration)
        if problem:
            return _refused(request, problem, origins)
        oidc = ToolLogin(request, registration)
        try:
            if not (request.GET.get("lti1p3_new_window") or request.POST.get("lti1p3_new_window")):
                oidc.validate_oidc_login()
                protocol, params = oidc.get_cookies_allowed_js_check_params()
                response = render(request, "lti/cookie_check.html", {"protocol": protocol, "params": params})
            else:
                response = oidc.start(services.tool_urls(request, registration)["launch"])
        except (OIDCException, LtiException) as error:
            return _refused(request, explain(error), origins)
    return allow_frames(response, origins)


@csrf_exempt
@never_cache
@require_POST
def launch(request, registration_uuid):
    """The platform's signed id token: verified, turned into a signed-in user, class and landing page."""
    registration = _registration(registration_uuid)
    origins = registration.frame_origins()
    with school_scope(registration.school_id):
        problem = _usable(registration)
        if problem:
            return _refused(request, problem, origins)
        tool_launch = ToolLaunch(request, registration)
        try:
            tool_launch.validate()
            data = claims.read(tool_launch.get_launch_data())
            lti_launch = services.handle_launch(registration, data)
        except LaunchRefused as refusal:
            return _refused(request, refusal, origins)
        except LtiException as error:
            return _refused(request, explain(error), origins)
        auth_login(request, lti_launch.user, backend=AUTH_BACKEND)
        request.session[SESSION_KEY] = lti_launch.frame_origins
    return allow_frames(redirect("lti_enter", launch_uuid=lti_launch.uuid), lti_launch.frame_origins)


@require_GET
def jwks(request, registration_uuid):
    """The school's public keys (current and recently retired), which the LMS uses to verify what the tool signs."""
    registration = _registration(registration_uuid)
    with school_scope(registration.school_id):
        response = JsonResponse(keys.jwks(registration.school))
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
def canvas_config(request, registration_uuid):
    registration = _registration(registration_uuid)
    with school_scope(registration.school_id):
        return JsonResponse(services.canvas_config(request, registration), json_dumps_params={"indent": 2})


# --- the launched person ------------------------------------------------------------------------------------


def _launch(launch_uuid) -> LtiLaunch:
    launch = (
        LtiLaunch.objects.with_scopes_disabled()
        .select_related("registration", "user", "course", "course__classroom")
        .filter(uuid=launch_uuid)
        .first()
    )
    if launch is None:
        raise Http404(_("This launch does not exist."))
    return launch


@never_cache
@require_GET
def enter(request, launch_uuid):
    """Where a launch sends the browser. With the session cookie (set by the launch response) it goes on to the
    landing page. Without it (a browser that keeps no cookies in the LMS's frame), the page offers to open the
    launch once in a new window, which signs the person in there."""
    launch = _launch(launch_uuid)
    origins = launch.frame_origins
    with school_scope(launch.registration.school_id):
        if request.user.is_authenticated and request.user.pk == launch.user_id:
            if launch.entered_at is None:
                LtiLaunch.objects.filter(pk=launch.pk, entered_at__isnull=True).update(
                    entered_at=timezone.now()
                )
            return allow_frames(redirect(launch.landing_url), origins)
        if launch.entered_at is not None or launch.expires_at <= timezone.now():
            refusal = LaunchRefused(
                _("This launch was already opened or has expired. Open fermonitor from your course again."),
                410,
            )
            return _refused(request, refusal, origins)
        if request.GET.get("window") == "new":
            with transaction.atomic():
                entered = LtiLaunch.objects.filter(
                    pk=launch.pk, entered_at__isnull=True, expires_at__gt=timezone.now()
                ).update(entered_at=timezone.now())
            if not entered:
                return _refused(request, LaunchRefused(_("This launch was already opened."), 410), origins)
            if not launch.user.is_active:
                return _refused(
                    request, LaunchRefused(_("Your fermonitor account is switched off.")), origins
                )
            auth_login(request, launch.user, backend=AUTH_BACKEND)
            request.session[SESSION_KEY] = origins
            return redirect(launch.landing_url)
        response = render(
            request,
            "lti/new_window.html",
            {"new_window_url": reverse("lti_enter", args=[launch.uuid]) + "?window=new"},
        )
    return allow_frames(response, origins)


def _own_launch(request, launch_uuid) -> LtiLaunch:
    """The signed-in person's own launch; anyone else's is a 404."""
    launch = _launch(launch_uuid)
    if launch.user_id != request.user.pk:
        raise Http404(_("This launch does not exist."))
    return launch


@login_required
@never_cache
@require_GET
def lesson(request, launch_uuid):
    """A student's landing: the live lesson's join page (camera policy first), else what comes next."""
    launch = _own_launch(request, launch_uuid)
    found = services.lesson_for(launch, request.GET.get("session", ""))
    if found.live is not None:
        return redirect(services.join_url(request.user, found.live))
    return render(request, "lti/lesson.html", {"lesson": found, "launch": launch})


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def deep_link(request, launch_uuid):
    """The teacher picks what the LMS adds: the class's live lessons (whatever is live when a student clicks) or
    one scheduled lesson. The answer is a signed JWT posted back to the LMS."""
    launch = _own_launch(request, launch_uuid)
    if launch.message_type != claims.DEEP_LINKING_REQUEST or launch.course is None:
        raise Http404(_("This launch does not add anything to a course."))
    if not launch.deep_link_settings or launch.expires_at <= timezone.now():
        return _refused(
            request,
            LaunchRefused(_("This request to add fermonitor was already answered or has expired."), 410),
            launch.frame_origins,
        )
    choices = services.deep_link_choices(launch)
    error = ""
    if request.method == "POST":
        picked = request.POST.get("lesson", "")
        session = None
        if picked and picked != "all":
            session = next((s for s in choices if str(s.uuid) == picked), None)
            if session is None:
                error = _("Choose one of the lessons below.")
        if not error:
            return_url, token = services.deep_link_response(request, launch, session)
            LtiLaunch.objects.filter(pk=launch.pk).update(deep_link_settings=None)
            return render(request, "lti/deep_link_return.html", {"return_url": return_url, "jwt": token})
    return render(
        request,
        "lti/deep_link.html",
        {"launch": launch, "classroom": launch.course.classroom, "choices": choices, "error": error},
        status=400 if error else 200,
    )


# --- the class page's LTI panel -----------------------------------------------------------------------------

teaching = role_required(Role.TEACHER, Role.ADMIN)


def _course(classroom) -> LtiCourse:
    course = LtiCourse.objects.select_related("registration").filter(classroom=classroom).first()
    if course is None:
        raise Http404(_("This class is not linked to an LMS course."))
    return course


@require_POST
@teaching
def roster_sync(request, classroom_uuid):
    classroom = get_classroom_for_user(request.user, classroom_uuid, manage=True)
    course = _course(classroom)
    try:
        result = services.sync_roster(course)
    except services.ServiceFailed as failure:
        messages.error(request, str(failure))
    else:
        messages.success(
            request, _("Roster synced with the LMS: %(summary)s.") % {"summary": result.summary()}
        )
    return redirect("classroom_detail", classroom_uuid=classroom.uuid)


@require_POST
@teaching
def grades_setting(request, classroom_uuid):
    classroom = get_classroom_for_user(request.user, classroom_uuid, manage=True)
    course = _course(classroom)
    course.grades_enabled = request.POST.get("enabled") == "on"
    course.save(update_fields=["grades_enabled"])
    if course.grades_enabled:
        messages.success(
            request,
            _(
                "After each lesson, each student's attendance is sent to the LMS gradebook (one column per lesson)."
            ),
        )
    else:
        messages.success(request, _("Attendance is no longer sent to the LMS gradebook."))
    return redirect("classroom_detail", classroom_uuid=classroom.uuid)


@require_POST
@teaching
def post_attendance(request, session_uuid):
    session: LiveSession = get_session_for_user(request.user, session_uuid, manage=True)
    _course(session.classroom)
    try:
        post = services.post_attendance(session)
    except services.ServiceFailed as failure:
        messages.error(request, str(failure))
    else:
        messages.success(
            request,
            _("Attendance of “%(title)s” sent to the LMS gradebook for %(count)d students.")
            % {"title": session.title, "count": post.scores},
        )
    return redirect("classroom_detail", classroom_uuid=session.classroom.uuid)
