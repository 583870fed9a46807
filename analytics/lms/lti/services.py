"""What fermonitor does with LTI: a verified launch becomes a signed-in user of the registration's school (created
on first launch), a course becomes a class (created on the first instructor launch), and the person lands where
their role works; deep linking answers the LMS with signed links to lessons; the course roster (names and roles)
is synced into the class; and, where the teacher switched it on, each student's attendance of an ended lesson is
sent to the LMS gradebook. Everything here runs inside the registration's school scope."""

import contextlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.exception import LtiException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.names_roles import NamesRolesProvisioningService

from analytics.models import StudentSession
from classes import services as class_services
from classes.models import Classroom, Enrolment, LiveSession, Role, SessionStatus, User

from ..models import LtiAttendancePost, LtiCourse, LtiIdentity, LtiLaunch, LtiRegistration
from ..models.lti import origin_of
from . import background, claims
from .claims import LaunchClaims
from .tool import CachedServiceConnector, LaunchRefused, library_registration

logger = logging.getLogger(__name__)

ENTER_WITHIN = timedelta(minutes=5)  # a launch must be entered (in the frame or a new window) this soon
DEEP_LINK_WITHIN = timedelta(hours=1)  # the teacher has this long to pick what to add
LAUNCH_KEPT = timedelta(days=1)
ROLE_RANK = {Role.STUDENT: 0, Role.TEACHER: 1, Role.ADMIN: 2}
LINEITEM_TAG = "fermonitor-attendance"


# --- URLs the LMS is given ------------------------------------------------------------------------------------


def absolute(request, path: str) -> str:
    """A URL of this server as the LMS must call it: FERMONITOR_PUBLIC_URL when set (behind a proxy, several
    host names), else the request's own scheme and host."""
    base = getattr(settings, "FERMONITOR_PUBLIC_URL", "").rstrip("/")
    return f"{base}{path}" if base else request.build_absolute_uri(path)


def tool_urls(request, registration: LtiRegistration) -> dict:
    args = [registration.uuid]
    launch = absolute(request, reverse("lti_launch", args=args))
    return {
        "login": absolute(request, reverse("lti_login", args=args)),
        "launch": launch,
        "redirect": launch,
        "deep_link": launch,
        "jwks": absolute(request, reverse("lti_jwks", args=args)),
        "canvas_config": absolute(request, reverse("lti_canvas_config", args=args)),
        "domain": request.get_host() if not getattr(settings, "FERMONITOR_PUBLIC_URL", "") else "",
    }


def canvas_config(request, registration: LtiRegistration) -> dict:
    """The JSON a Canvas admin pastes (or points to) when creating the LTI developer key."""
    urls = tool_urls(request, registration)
    return {
        "title": "fermonitor",
        "description": _("Live lessons with camera-based presence and mood for the teacher."),
        "oidc_initiation_url": urls["login"],
        "target_link_uri": urls["launch"],
        "public_jwk_url": urls["jwks"],
        "scopes": [claims.SCOPE_LINEITEM, claims.SCOPE_SCORE, claims.SCOPE_MEMBERSHIPS],
        "extensions": [
            {
                "platform": "canvas.instructure.com",
                "privacy_level": "public",
                "settings": {
                    "placements": [
                        {
                            "placement": "course_navigation",
                            "message_type": claims.RESOURCE_LINK_REQUEST,
                            "target_link_uri": urls["launch"],
                            "text": "fermonitor",
                        },
                        {
                            "placement": "link_selection",
                            "message_type": claims.DEEP_LINKING_REQUEST,
                            "target_link_uri": urls["deep_link"],
                            "text": "fermonitor",
                        },
                    ]
                },
            }
        ],
    }


# --- launch ---------------------------------------------------------------------------------------------------


def handle_launch(registration: LtiRegistration, data: LaunchClaims) -> LtiLaunch:
    """The verified launch as a signed-in-able user, a class, and a landing page. Refusals raise LaunchRefused
    before anything is written (the transaction rolls back), so a refused launch creates nobody."""
    role = data.role
    if role is None:
        raise LaunchRefused(
            _(
                "Your role in this course (%(roles)s) has no fermonitor page. Teachers and students can open it."
            )
            % {"roles": ", ".join(r.rsplit("#", 1)[-1] for r in data.roles) or _("none")}
        )
    if data.message_type == claims.DEEP_LINKING_REQUEST and role == Role.STUDENT:
        raise LaunchRefused(_("Only the course's teachers can add fermonitor lessons to a course."))
    if data.message_type == claims.DEEP_LINKING_REQUEST and not data.context_id:
        raise LaunchRefused(
            _("Add fermonitor from inside a course: this request names no course."), status=400
        )
    now = timezone.now()
    with transaction.atomic():
        # Launches are kept a day after they expire (a student may keep the "no live lesson" page open).
        LtiLaunch.objects.filter(registration=registration, expires_at__lt=now - LAUNCH_KEPT).delete()
        user = _user_for(registration, data, role, now)
        course = _course_for(registration, data, user, role)
        if data.message_type == claims.DEEP_LINKING_REQUEST and course is None:
            raise LaunchRefused(
                _(
                    "The fermonitor class of this course is created when its teacher first opens fermonitor. "
                    "Open it as the course's teacher."
                )
            )
        if course is not None and user.role == Role.STUDENT:
            Enrolment.objects.get_or_create(classroom=course.classroom, student=user)
        launch = LtiLaunch.objects.create(
            registration=registration,
            user=user,
            course=course,
            message_type=data.message_type,
            deployment_id=data.deployment_id,
            landing_url="",
            deep_link_settings=data.deep_link_settings
            if data.message_type == claims.DEEP_LINKING_REQUEST
            else None,
            frame_origins=sorted(
                registration.frame_origins()
                | {o for o in (origin_of(data.return_url), origin_of(data.platform_url)) if o}
            ),
            expires_at=now
            + (DEEP_LINK_WITHIN if data.message_type == claims.DEEP_LINKING_REQUEST else ENTER_WITHIN),
        )
        launch.landing_url = _landing(launch, user, course, data)
        launch.save(update_fields=["landing_url"])
        if course is not None and role != Role.STUDENT and course.can_sync_roster:
            background.after_commit(registration.school_id, sync_roster_by_id, course.pk)
    return launch


def _user_for(registration: LtiRegistration, data: LaunchClaims, role: str, now) -> User:
    school = registration.school
    identity = (
        LtiIdentity.objects.select_related("user")
        .filter(school=school, issuer=data.issuer, sub=data.sub)
        .first()
    )
    first, last = _names(data)
    if identity is None:
        user = User(
            school=school,
            role=role,
            username=generated_username(first or data.full_name),
            first_name=first[:150],
            last_name=last[:150],
            email=data.email[:254],
        )
        user.set_unusable_password()
        user.save()
        LtiIdentity.objects.create(
            school=school,
            issuer=data.issuer,
            sub=data.sub,
            user=user,
            registration=registration,
            last_launch_at=now,
        )
        return user
    user = identity.user
    if user.school_id != school.pk:  # cannot happen (the identity is the school's); never cross schools
        raise LaunchRefused(_("This LMS account belongs to another school."))
    if not user.is_active:
        raise LaunchRefused(_("Your fermonitor account is switched off. Ask your school's administrator."))
    changed = []
    if ROLE_RANK.get(role, 0) > ROLE_RANK.get(user.role, 0):
        user.role = role  # the LMS made them a teacher (or admin); a lower role in one course never demotes
        changed.append("role")
    for name, value in (("first_name", first[:150]), ("last_name", last[:150]), ("email", data.email[:254])):
        if value and getattr(user, name) != value:
            setattr(user, name, value)
            changed.append(name)
    if changed:
        user.save(update_fields=changed)
    identity.registration = registration
    identity.last_launch_at = now
    identity.save(update_fields=["registration", "last_launch_at"])
    return user


def _names(data: LaunchClaims) -> tuple[str, str]:
    if data.given_name or data.family_name:
        return data.given_name, data.family_name
    first, _sep, last = data.name.partition(" ")
    return first, last


def generated_username(name: str) -> str:
    """A new username from a first name and a random suffix (e.g. `sam.4f9a2c`). Usernames are unique across
    schools, so counting up (sam2, sam3) would tell one school which names another school uses."""
    base = slugify(name).replace("-", ".")[:30] or "lms.user"
    while True:
        candidate = f"{base}.{secrets.token_hex(3)}"
        if not User.objects.filter(username=candidate).exists():
            return candidate


def _course_for(registration: LtiRegistration, data: LaunchClaims, user: User, role: str) -> LtiCourse | None:
    if not data.context_id:
        return None
    school = registration.school
    course = (
        LtiCourse.objects.select_related("classroom", "classroom__teacher")
        .filter(school=school, issuer=data.issuer, context_id=data.context_id)
        .first()
    )
    services = {"registration": registration, "deployment_id": data.deployment_id}
    services.update(
        {k: v[:255] for k, v in (("title", data.context_title), ("label", data.context_label)) if v}
    )
    if role != Role.STUDENT:
        # Service endpoints and their scopes come from the course's teachers' launches, when they carry them.
        if data.memberships_url:
            services["memberships_url"] = data.memberships_url[:1000]
        if data.lineitems_url:
            services.update(lineitems_url=data.lineitems_url[:1000], ags_scopes=data.ags_scopes)
    if course is None:
        if role != Role.TEACHER:
            return None
        classroom = class_services.create_classroom(
            school,
            user,
            name=(data.context_title or data.context_label or _("LMS course"))[:200],
            subject=data.context_label[:200],
        )
        return LtiCourse.objects.create(
            school=school, issuer=data.issuer, context_id=data.context_id, classroom=classroom, **services
        )
    if role == Role.TEACHER and course.classroom.teacher_id != user.pk:
        raise LaunchRefused(
            _(
                "This course's fermonitor class is taught by %(teacher)s. Ask your school's administrator to make "
                "you its teacher."
            )
            % {"teacher": course.classroom.teacher}
        )
    changed = [name for name, value in services.items() if value != getattr(course, name)]
    for name in changed:
        setattr(course, name, services[name])
    if changed:
        course.save(update_fields=changed)
    return course


def _landing(launch: LtiLaunch, user: User, course: LtiCourse | None, data: LaunchClaims) -> str:
    if launch.message_type == claims.DEEP_LINKING_REQUEST:
        return reverse("lti_deep_link", args=[launch.uuid])
    if user.role == Role.STUDENT:
        query = f"?{urlencode({'session': data.session_uuid})}" if data.session_uuid else ""
        return reverse("lti_lesson", args=[launch.uuid]) + query
    if course is not None:
        return reverse("classroom_detail", args=[course.classroom.uuid])
    return reverse("school_admin_home" if user.role == Role.ADMIN else "teacher_home")


# --- the student's lesson -------------------------------------------------------------------------------------


@dataclass
class Lesson:
    """Where a student of a launched course stands: a live lesson to join, or what comes next."""

    classroom: Classroom | None
    live: LiveSession | None = None
    next_session: LiveSession | None = None
    picked: LiveSession | None = None


def lesson_for(launch: LtiLaunch, session_uuid: str = "") -> Lesson:
    course = launch.course
    if course is None:
        return Lesson(classroom=None)
    classroom = course.classroom
    sessions = LiveSession.objects.filter(classroom=classroom)
    picked = None
    if session_uuid:
        picked = sessions.filter(uuid=session_uuid).first() if _is_uuid(session_uuid) else None
    if picked is not None:
        if picked.status == SessionStatus.LIVE:
            return Lesson(classroom, live=picked, picked=picked)
        upcoming = picked if picked.status == SessionStatus.SCHEDULED else None
        return Lesson(classroom, next_session=upcoming, picked=picked)
    live = sessions.filter(status=SessionStatus.LIVE).order_by("-started_at", "pk").first()
    upcoming = sessions.filter(status=SessionStatus.SCHEDULED).order_by("scheduled_start", "pk").first()
    return Lesson(classroom, live=live, next_session=upcoming)


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def join_url(student: User, session: LiveSession) -> str:
    """The join page, through the camera policy first if the student has not agreed to it."""
    url = reverse("live_join", args=[session.uuid])
    if class_services.has_consent(student):
        return url
    return reverse("consent") + "?" + urlencode({"next": url})


# --- deep linking ---------------------------------------------------------------------------------------------


def deep_link_choices(launch: LtiLaunch) -> list[LiveSession]:
    """Lessons the teacher may link one by one: live and scheduled lessons of the class."""
    return list(
        LiveSession.objects.filter(
            classroom=launch.course.classroom, status__in=[SessionStatus.LIVE, SessionStatus.SCHEDULED]
        ).order_by("scheduled_start", "pk")
    )


def deep_link_response(request, launch: LtiLaunch, session: LiveSession | None) -> tuple[str, str]:
    """(return URL, signed JWT) answering the LMS's deep-linking request with one link."""
    registration = launch.registration
    classroom = launch.course.classroom
    resource = DeepLinkResource().set_url(tool_urls(request, registration)["launch"])
    if session is None:
        resource.set_title(_("%(class)s: live lessons") % {"class": classroom.name})
    else:
        when = formats.date_format(timezone.localtime(session.scheduled_start), "DATETIME_FORMAT")
        resource.set_title(f"{session.title} ({when})").set_custom_params(
            {claims.SESSION_PARAMETER: str(session.uuid)}
        )
    settings_claim = launch.deep_link_settings or {}
    link = DeepLink(library_registration(registration), launch.deployment_id, settings_claim)
    token = link.get_response_jwt([resource])
    return settings_claim["deep_link_return_url"], token


# --- names and roles: the course roster ------------------------------------------------------------------------


class ServiceFailed(Exception):
    """The LMS did not answer a service call as it should; the message is for the teacher."""


@dataclass
class RosterResult:
    enrolled: list[User] = field(default_factory=list)
    unenrolled: list[User] = field(default_factory=list)
    created: list[User] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = _(
            "%(enrolled)d enrolled, %(unenrolled)d unenrolled, %(created)d new students, %(unchanged)d unchanged"
        ) % {
            "enrolled": len(self.enrolled),
            "unenrolled": len(self.unenrolled),
            "created": len(self.created),
            "unchanged": self.unchanged,
        }
        if self.skipped:
            text += " · " + _("skipped (not student accounts): %(names)s") % {
                "names": ", ".join(self.skipped)
            }
        return text[:500]


def _service_error(error: Exception) -> str:
    if isinstance(error, requests.RequestException):
        return _("the LMS could not be reached (%(error)s)") % {"error": type(error).__name__}
    return str(error)[:300]


def sync_roster_by_id(course_pk: int) -> RosterResult | None:
    course = (
        LtiCourse.objects.select_related("classroom", "registration", "school").filter(pk=course_pk).first()
    )
    if course is None:
        return None
    try:
        return sync_roster(course)
    except ServiceFailed:
        return None


def sync_roster(course: LtiCourse) -> RosterResult:
    """Make the class's LMS students exactly the course's active learners: enrol new ones (creating accounts for
    people who never launched), unenrol those who left. Students enrolled by hand (no LMS account) stay."""
    if not course.can_sync_roster:
        raise ServiceFailed(_("The LMS has not offered this course's roster (names and roles service)."))
    try:
        connector = CachedServiceConnector(course.registration)
        members = NamesRolesProvisioningService(
            connector, {"context_memberships_url": course.memberships_url}
        ).get_members()
    except (LtiException, requests.RequestException, ValueError, KeyError) as error:
        message = _("Roster sync failed: %(error)s") % {"error": _service_error(error)}
        LtiCourse.objects.filter(pk=course.pk).update(roster_error=message[:500])
        raise ServiceFailed(message) from error
    learners = {}
    for member in members:
        if not isinstance(member, dict) or not member.get("user_id"):
            continue
        if member.get("status", "Active") != "Active" or not claims.is_learner(member.get("roles") or []):
            continue
        learners[str(member["user_id"])] = member
    result = RosterResult()
    school = course.school
    classroom = course.classroom
    with transaction.atomic():
        identities = {
            i.sub: i
            for i in LtiIdentity.objects.select_related("user").filter(
                school=school, issuer=course.issuer, sub__in=list(learners)
            )
        }
        wanted: set[int] = set()
        for sub, member in learners.items():
            identity = identities.get(sub)
            if identity is None:
                first = member.get("given_name") or (member.get("name") or "").partition(" ")[0]
                last = member.get("family_name") or (member.get("name") or "").partition(" ")[2]
                user = User(
                    school=school,
                    role=Role.STUDENT,
                    username=generated_username(first or member.get("name") or ""),
                    first_name=str(first)[:150],
                    last_name=str(last)[:150],
                    email=str(member.get("email") or "").lower()[:254],
                )
                user.set_unusable_password()
                user.save()
                LtiIdentity.objects.create(
                    school=school, issuer=course.issuer, sub=sub, user=user, registration=course.registration
                )
                result.created.append(user)
            else:
                user = identity.user
            if user.role != Role.STUDENT or not user.is_active:
                result.skipped.append(str(user))
                continue
            wanted.add(user.pk)
        current = set(Enrolment.objects.filter(classroom=classroom).values_list("student_id", flat=True))
        from_lms = set(
            LtiIdentity.objects.filter(school=school, issuer=course.issuer, user_id__in=current).values_list(
                "user_id", flat=True
            )
        )
        to_add = wanted - current
        to_remove = (from_lms & current) - wanted
        Enrolment.objects.bulk_create(
            [Enrolment(classroom=classroom, student_id=pk) for pk in sorted(to_add)]
        )
        if to_remove:
            Enrolment.objects.filter(classroom=classroom, student_id__in=to_remove).delete()
        result.enrolled = list(User.objects.filter(pk__in=to_add))
        result.unenrolled = list(User.objects.filter(pk__in=to_remove))
        result.unchanged = len(wanted & current)
        course.roster_synced_at = timezone.now()
        course.roster_summary = result.summary()
        course.roster_error = ""
        course.save(update_fields=["roster_synced_at", "roster_summary", "roster_error"])
    return result


# --- assignments and grades: attendance -------------------------------------------------------------------------


def lesson_minutes(session: LiveSession) -> int:
    if not (session.started_at and session.ended_at):
        return 0
    return max(1, round((session.ended_at - session.started_at).total_seconds() / 60))


def attendance(session: LiveSession) -> dict[int, tuple[int, int]]:
    """{student id: (minutes present, lesson minutes)} for the class's enrolled students. Present means the face
    was visible at least half of the minute (the analytics roll-ups' `minutes_present`); nothing here reads an
    emotion, so a presence-only school and an emotion school score the same lesson the same way."""
    total = lesson_minutes(session)
    enrolled = Enrolment.objects.filter(classroom=session.classroom_id).values_list("student_id", flat=True)
    present = dict(
        StudentSession.objects.filter(session=session, student_id__in=list(enrolled)).values_list(
            "student_id", "minutes_present"
        )
    )
    return {pk: (min(present.get(pk, 0), total), total) for pk in enrolled}


def post_attendance(session: LiveSession) -> LtiAttendancePost:
    """One line item per lesson ("Attendance: <title> (<date>)", 0-100) and one score per LMS student: the share of
    the lesson they were present. Re-posting replaces the scores (the LMS keeps the latest)."""
    course = (
        LtiCourse.objects.select_related("registration", "classroom")
        .filter(classroom=session.classroom_id)
        .first()
    )
    if course is None or not course.grades_enabled:
        raise ServiceFailed(_("Sending attendance to the LMS gradebook is switched off for this class."))
    if session.status != SessionStatus.ENDED:
        raise ServiceFailed(_("Attendance is sent once the lesson has ended."))
    if not course.can_post_grades:
        raise ServiceFailed(_("The LMS has not given fermonitor access to this course's gradebook."))
    post, _created = LtiAttendancePost.objects.get_or_create(course=course, session=session)
    try:
        connector = CachedServiceConnector(course.registration)
        ags = AssignmentsGradesService(
            connector, {"scope": course.ags_scopes, "lineitems": course.lineitems_url}
        )
        when = formats.date_format(
            timezone.localtime(session.started_at or session.scheduled_start), "DATE_FORMAT"
        )
        lineitem = ags.find_or_create_lineitem(
            LineItem()
            .set_label(_("Attendance: %(title)s (%(date)s)") % {"title": session.title, "date": when})
            .set_score_maximum(100)
            .set_resource_id(str(session.uuid))
            .set_tag(LINEITEM_TAG),
            find_by="resource_id",
        )
        subs = dict(
            LtiIdentity.objects.filter(school=course.school_id, issuer=course.issuer).values_list(
                "user_id", "sub"
            )
        )
        now = timezone.now().isoformat()
        sent = 0
        for student_id, (present, total) in sorted(attendance(session).items()):
            sub = subs.get(student_id)
            if sub is None or total == 0:
                continue  # enrolled by hand: the LMS does not know them
            grade = (
                Grade()
                .set_user_id(sub)
                .set_score_given(round(100 * present / total, 1))
                .set_score_maximum(100)
                .set_timestamp(now)
                .set_activity_progress("Completed")
                .set_grading_progress("FullyGraded")
                .set_comment(
                    _("Present %(present)d of %(total)d minutes") % {"present": present, "total": total}
                )
            )
            ags.put_grade(grade, lineitem)
            sent += 1
    except (LtiException, requests.RequestException, ValueError, KeyError) as error:
        post.error = (_("Sending attendance failed: %(error)s") % {"error": _service_error(error)})[:500]
        post.save(update_fields=["error"])
        raise ServiceFailed(post.error) from error
    post.lineitem_url = (lineitem.get_id() or "")[:1000]
    post.posted_at = timezone.now()
    post.scores = sent
    post.error = ""
    post.save(update_fields=["lineitem_url", "posted_at", "scores", "error"])
    return post


def post_attendance_by_id(session_pk: int) -> None:
    session = LiveSession.objects.select_related("classroom").filter(pk=session_pk).first()
    if session is not None:
        # A failure is recorded on the post; the class page shows it with a retry button.
        with contextlib.suppress(ServiceFailed):
            post_attendance(session)


def attendance_after_lesson(session: LiveSession) -> None:
    """On a lesson's end: if its class sends attendance, send it once the last samples are rolled up."""
    course = LtiCourse.objects.filter(classroom=session.classroom_id, grades_enabled=True).first()
    if course is None or not course.can_post_grades:
        return
    delay = getattr(settings, "FERMONITOR_LTI_ATTENDANCE_DELAY", 20)
    background.after_commit(course.school_id, post_attendance_by_id, session.pk, delay=delay)


# --- the LTI panel of a class page ---------------------------------------------------------------------------


def class_panel(classroom: Classroom) -> dict | None:
    course = LtiCourse.objects.select_related("registration").filter(classroom=classroom).first()
    if course is None:
        return None
    ended = list(
        LiveSession.objects.filter(classroom=classroom, status=SessionStatus.ENDED).order_by(
            "-ended_at", "-pk"
        )[:10]
    )
    posts = {p.session_id: p for p in LtiAttendancePost.objects.filter(course=course, session__in=ended)}
    return {
        "course": course,
        "ended": [(s, posts.get(s.pk)) for s in ended],
    }
