"""The IRIs fermonitor's statements use. Verbs and activity types come from the xAPI Virtual Classroom profile
(https://w3id.org/xapi/virtual-classroom) and the ADL vocabulary; fermonitor's own result extensions are defined
in docs/xapi.md (identifiers, not links: they need not resolve)."""

import uuid

# Statement ids are uuid5(STATEMENT_NAMESPACE, "<event key>"): the same event always gets the same id, on every
# server and in every backfill, so an LRS recognises a repeat. Never change this value.
STATEMENT_NAMESPACE = uuid.UUID("5b7f3a52-8d0e-4f57-9a41-0c6f5b6ad2e1")

LANGUAGE = "en-US"

PROFILE = "https://w3id.org/xapi/virtual-classroom"
PROFILE_ACTIVITY_TYPE = "http://adlnet.gov/expapi/activities/profile"
VIRTUAL_CLASSROOM = "https://w3id.org/xapi/virtual-classroom/activity-types/virtual-classroom"
COURSE = "http://adlnet.gov/expapi/activities/course"

VERBS = {
    "joined": {"id": "http://activitystrea.ms/join", "display": {LANGUAGE: "joined"}},
    "left": {"id": "http://activitystrea.ms/leave", "display": {LANGUAGE: "left"}},
    "attended": {"id": "http://adlnet.gov/expapi/verbs/attended", "display": {LANGUAGE: "attended"}},
    "terminated": {"id": "http://adlnet.gov/expapi/verbs/terminated", "display": {LANGUAGE: "terminated"}},
    "experienced": {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {LANGUAGE: "experienced"}},
}

# Context extensions of the profile.
SESSION_ID = "https://w3id.org/xapi/cmi5/context/extensions/sessionid"
PLANNED_DURATION = "http://id.tincanapi.com/extension/planned-duration"

# fermonitor's result extensions.
EXTENSIONS = "https://fermonitor.org/xapi/extensions"
PRESENCE_SHARE = f"{EXTENSIONS}/presence-share"
EMOTION_SHARES = f"{EXTENSIONS}/emotion-shares"
STUDENTS_ENROLLED = f"{EXTENSIONS}/students-enrolled"
STUDENTS_ATTENDED = f"{EXTENSIONS}/students-attended"
LMS_ID = f"{EXTENSIONS}/lms-id"

PLATFORM = "fermonitor"


def statement_id(key: str) -> str:
    return str(uuid.uuid5(STATEMENT_NAMESPACE, key))
