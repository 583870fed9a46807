"""What a verified id token says, read into plain Python: who (issuer, sub, name, email, role), where (course),
what (message type, deep-linking settings, a lesson picked earlier) and which services the course offers."""

from dataclasses import dataclass, field

from classes.models import Role

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = LTI + "message_type"
DEPLOYMENT_ID = LTI + "deployment_id"
ROLES = LTI + "roles"
CONTEXT = LTI + "context"
RESOURCE_LINK = LTI + "resource_link"
CUSTOM = LTI + "custom"
LAUNCH_PRESENTATION = LTI + "launch_presentation"
TOOL_PLATFORM = LTI + "tool_platform"
TARGET_LINK_URI = LTI + "target_link_uri"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"

RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_MEMBERSHIPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"

# The custom parameter a deep link carries when the teacher picked one lesson.
SESSION_PARAMETER = "fermonitor_session"

VOCAB = "http://purl.imsglobal.org/vocab/lis/v2/"


def _parse(role: str) -> tuple[str, str]:
    """(kind, name) of one role URI: kind is membership, institution or system; name the role before any
    sub-role (membership/Instructor#TeachingAssistant is an Instructor). Short names are context roles."""
    if role.startswith(VOCAB):
        path, _, fragment = role[len(VOCAB) :].partition("#")
        parts = path.split("/")
        kind = parts[0]
        is_sub_role = kind == "membership" and len(parts) > 1
        return kind, parts[1] if is_sub_role else fragment
    if role.startswith("http"):
        return "other", role
    return "membership", role.split("#")[0]


def fermonitor_role(roles: list[str]) -> str | None:
    """The fermonitor role for an LMS user's roles in this launch, or None if none fits.

    Administrator (of the system, the institution or the course) -> school admin; Instructor -> teacher;
    Learner -> student. Canvas sends institution roles even in courses where the person is a student, so a
    Learner role in the course wins over institution roles, and institution Instructor/Student only count when
    the launch has no course role at all."""
    parsed = [_parse(r) for r in roles if isinstance(r, str)]
    course = {name for kind, name in parsed if kind == "membership"}
    anywhere = {name for _, name in parsed}
    if "Learner" in course and not course & {"Instructor", "Administrator"}:
        return Role.STUDENT
    if "Administrator" in anywhere:
        return Role.ADMIN
    if "Instructor" in course or (not course and anywhere & {"Instructor", "Faculty"}):
        return Role.TEACHER
    if "Learner" in course or (not course and anywhere & {"Student", "Learner"}):
        return Role.STUDENT
    return None


def is_learner(roles: list[str]) -> bool:
    return fermonitor_role(roles) == Role.STUDENT


@dataclass
class LaunchClaims:
    issuer: str
    sub: str
    message_type: str
    deployment_id: str
    roles: list[str]
    given_name: str = ""
    family_name: str = ""
    name: str = ""
    email: str = ""
    context_id: str = ""
    context_title: str = ""
    context_label: str = ""
    session_uuid: str = ""
    memberships_url: str = ""
    lineitems_url: str = ""
    ags_scopes: list[str] = field(default_factory=list)
    deep_link_settings: dict | None = None
    return_url: str = ""
    platform_url: str = ""

    @property
    def role(self) -> str | None:
        return fermonitor_role(self.roles)

    @property
    def full_name(self) -> str:
        return self.name or " ".join(p for p in (self.given_name, self.family_name) if p)


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def read(body: dict) -> LaunchClaims:
    context = _dict(body.get(CONTEXT))
    nrps = _dict(body.get(NRPS))
    ags = _dict(body.get(AGS))
    custom = _dict(body.get(CUSTOM))
    roles = body.get(ROLES)
    return LaunchClaims(
        issuer=_text(body.get("iss")),
        sub=_text(body.get("sub")),
        message_type=_text(body.get(MESSAGE_TYPE)),
        deployment_id=_text(body.get(DEPLOYMENT_ID)),
        roles=[r for r in roles if isinstance(r, str)] if isinstance(roles, list) else [],
        given_name=_text(body.get("given_name")),
        family_name=_text(body.get("family_name")),
        name=_text(body.get("name")),
        email=_text(body.get("email")).lower(),
        context_id=_text(context.get("id")),
        context_title=_text(context.get("title")),
        context_label=_text(context.get("label")),
        session_uuid=_text(custom.get(SESSION_PARAMETER)),
        memberships_url=_text(nrps.get("context_memberships_url")),
        lineitems_url=_text(ags.get("lineitems")),
        ags_scopes=[s for s in ags.get("scope", []) if isinstance(s, str)]
        if isinstance(ags.get("scope"), list)
        else [],
        deep_link_settings=_dict(body.get(DEEP_LINKING_SETTINGS)) or None,
        return_url=_text(_dict(body.get(LAUNCH_PRESENTATION)).get("return_url")),
        platform_url=_text(_dict(body.get(TOOL_PLATFORM)).get("url")),
    )
