"""The statements of a finished lesson, as plain dicts (the catalogue with examples is docs/xapi.md).

Per student who streamed: "joined" and "left" for every stay (the Virtual Classroom profile's verbs), and one
"attended" whose result holds the time spent and the presence share. Per lesson: "terminated" with the class
teacher as actor and the class summary as result. Every statement has a stable id (uuid5 of the event), the
session as context registration, and the class's LMS course as parent activity when the class has an LMS id.

Privacy: people are identified by account (LMS id or fermonitor UUID), by email only when the school chose it,
and never by name; emotion shares appear only when the school enabled them and is not presence-only.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from classes.models import LiveSession, User

from . import vocabulary as v
from .facts import LessonFacts, StudentFacts
from .models import ActorIdentification, LrsSettings
from .validation import validate

# Names people typed (lesson titles, class names) are in no language fermonitor knows: "und" (RFC 5646).
UNDETERMINED = "und"
STATEMENT_KINDS = ("joined", "left", "attended", "terminated")


# --- formats ------------------------------------------------------------------------------------------------


def timestamp(moment: datetime) -> str:
    """UTC, millisecond precision: the same instant is always the same text, so a repeat is identical."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def duration(seconds: float | timedelta) -> str:
    """ISO 8601 duration with at most 0.01 s precision (xAPI's limit), e.g. PT47M12.5S."""
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    hundredths = max(round(seconds * 100), 0)
    hours, rest = divmod(hundredths, 360000)
    minutes, rest = divmod(rest, 6000)
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if rest or text == "PT":
        whole, fraction = divmod(rest, 100)
        text += f"{whole}.{fraction:02d}".rstrip("0").rstrip(".") + "S"
    return text


def share(value: float) -> float:
    return round(value, 4)


def shares(values: dict[str, float]) -> dict[str, float]:
    return {name: share(value) for name, value in values.items()}


# --- parts --------------------------------------------------------------------------------------------------


def agent(person: User, lrs: LrsSettings) -> dict:
    if lrs.actor_identification == ActorIdentification.EMAIL and person.email:
        return {"objectType": "Agent", "mbox": f"mailto:{person.email}"}
    if person.lms_id:
        home = lrs.lms_url or lrs.platform_url
        return {"objectType": "Agent", "account": {"homePage": home, "name": person.lms_id}}
    return {"objectType": "Agent", "account": {"homePage": lrs.platform_url, "name": str(person.uuid)}}


def _base(lrs: LrsSettings) -> str:
    return lrs.platform_url.rstrip("/")


def lesson_activity(session: LiveSession, lrs: LrsSettings) -> dict:
    definition = {"type": v.VIRTUAL_CLASSROOM, "name": {UNDETERMINED: session.title}}
    if session.lms_id:
        definition["extensions"] = {v.LMS_ID: session.lms_id}
    return {
        "objectType": "Activity",
        "id": f"{_base(lrs)}/xapi/activities/lessons/{session.uuid}",
        "definition": definition,
    }


def course_activity(session: LiveSession, lrs: LrsSettings) -> dict | None:
    classroom = session.classroom
    if not classroom.lms_id:
        return None
    lms_id = classroom.lms_id
    if "://" in lms_id or lms_id.startswith("urn:"):
        activity_id = lms_id  # the LMS's own IRI for the course
    else:
        activity_id = f"{_base(lrs)}/xapi/activities/courses/{classroom.school.uuid}/{quote(lms_id, safe='')}"
    return {
        "objectType": "Activity",
        "id": activity_id,
        "definition": {
            "type": v.COURSE,
            "name": {UNDETERMINED: classroom.name},
            "extensions": {v.LMS_ID: lms_id},
        },
    }


PROFILE_CATEGORY = {
    "objectType": "Activity",
    "id": v.PROFILE,
    "definition": {"type": v.PROFILE_ACTIVITY_TYPE},
}


def context(session: LiveSession, lrs: LrsSettings, *, instructor: User | None, planned: bool) -> dict:
    activities = {"category": [PROFILE_CATEGORY]}
    course = course_activity(session, lrs)
    if course is not None:
        activities["parent"] = [course]
    extensions = {v.SESSION_ID: str(session.uuid)}
    if planned:
        extensions[v.PLANNED_DURATION] = duration(session.planned_duration)
    result = {
        "registration": str(session.uuid),
        "platform": v.PLATFORM,
        "contextActivities": activities,
        "extensions": extensions,
    }
    if instructor is not None:
        result["instructor"] = agent(instructor, lrs)
    return result


def statement(key: str, actor: dict, verb: str, obj: dict, when: datetime, ctx: dict, result=None) -> dict:
    built = {
        "id": v.statement_id(key),
        "actor": actor,
        "verb": v.VERBS[verb],
        "object": obj,
        "context": ctx,
        "timestamp": timestamp(when),
    }
    if result is not None:
        built["result"] = result
    # A dict of its own: the verbs and the profile category are shared constants.
    return validate(copy.deepcopy(built))


# --- the lesson ---------------------------------------------------------------------------------------------


def student_statements(facts: LessonFacts, student: StudentFacts, lrs: LrsSettings) -> list[tuple[str, dict]]:
    session = facts.session
    actor = agent(student.student, lrs)
    obj = lesson_activity(session, lrs)
    prefix = f"{session.uuid}/{student.student.uuid}"
    built = []
    for n, segment in enumerate(student.segments):
        joined = context(session, lrs, instructor=facts.teacher, planned=True)
        left = context(session, lrs, instructor=facts.teacher, planned=False)
        built.append(
            ("joined", statement(f"{prefix}/joined/{n}", actor, "joined", obj, segment.joined, joined))
        )
        built.append(
            (
                "left",
                statement(
                    f"{prefix}/left/{n}",
                    actor,
                    "left",
                    obj,
                    segment.left,
                    left,
                    {"duration": duration(segment.seconds)},
                ),
            )
        )
    extensions = {v.PRESENCE_SHARE: share(student.presence_share or 0.0)}
    emotion_shares = student.emotion_shares
    if lrs.emotions_allowed and emotion_shares is not None:
        extensions[v.EMOTION_SHARES] = shares(emotion_shares)
    result = {"duration": duration(student.seconds), "completion": True, "extensions": extensions}
    attended = context(session, lrs, instructor=facts.teacher, planned=False)
    last_left = student.segments[-1].left
    built.append(
        ("attended", statement(f"{prefix}/attended", actor, "attended", obj, last_left, attended, result))
    )
    return built


def summary_statement(facts: LessonFacts, lrs: LrsSettings) -> dict:
    session = facts.session
    extensions = {v.STUDENTS_ENROLLED: facts.enrolled, v.STUDENTS_ATTENDED: len(facts.students)}
    if facts.presence_share is not None:
        extensions[v.PRESENCE_SHARE] = share(facts.presence_share)
    emotion_shares = facts.emotion_shares
    if lrs.emotions_allowed and emotion_shares is not None:
        extensions[v.EMOTION_SHARES] = shares(emotion_shares)
    lesson_time = (session.ended_at - session.started_at) if session.started_at else timedelta(0)
    return statement(
        f"{session.uuid}/terminated",
        agent(facts.teacher, lrs),
        "terminated",
        lesson_activity(session, lrs),
        session.ended_at,
        context(session, lrs, instructor=None, planned=True),
        {"duration": duration(lesson_time), "completion": True, "extensions": extensions},
    )


def lesson_statements(facts: LessonFacts, lrs: LrsSettings) -> list[tuple[str, dict]]:
    """(kind, statement) for the whole lesson: each student's in order, then the class summary."""
    built = []
    for student in facts.students:
        built.extend(student_statements(facts, student, lrs))
    built.append(("terminated", summary_statement(facts, lrs)))
    return built


def test_statement(lrs: LrsSettings, admin: User, now: datetime, statement_uuid: str) -> dict:
    """What "Send a test statement" sends: the admin experienced fermonitor's connection test."""
    return validate(
        {
            "id": statement_uuid,
            "actor": agent(admin, lrs),
            "verb": copy.deepcopy(v.VERBS["experienced"]),
            "object": {
                "objectType": "Activity",
                "id": f"{_base(lrs)}/xapi/activities/connection-test",
                "definition": {"name": {"en-US": "fermonitor LRS connection test"}},
            },
            "context": {"platform": v.PLATFORM},
            "timestamp": timestamp(now),
        }
    )
