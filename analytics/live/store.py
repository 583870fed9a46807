"""Every database call of the live path, synchronous, each inside the school's scope.

Consumers call these through `database_sync_to_async`; they take ids (or the authenticated user), look the
school up and enter `school_scope` themselves, as DEVELOPERS.md asks of consumers.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from channels.db import database_sync_to_async
from django.db import connections, transaction
from django.db.models import Count, F, FloatField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, ExtractSecond, Floor, TruncMinute
from django.utils.translation import gettext
from django_scopes import scopes_disabled

from analytics.models import Alert, CallParticipant, EmotionSample, ParticipantSource
from analytics.services import ensure_participants, participant_number_offset, record_alert
from classes.access import can_manage_classroom
from classes.models import Enrolment, LiveSession, Role, SessionStatus
from classes.services import JoinRefused, check_can_stream
from classes.tenancy import school_scope

from .aggregation import VALENCE, AlertEvent, AlertSettings, participant_key

# WebSocket close codes (4000-4999 are the application's). The reason text is also sent as a JSON message
# ({"type": "refused", ...}) just before closing, because browsers do not always surface the close reason.
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = (
    4403  # wrong role, not the class's teacher/admin, not enrolled, no consent, capture disabled
)
CLOSE_UNKNOWN_SESSION = 4404  # no such session in the user's school (other schools' sessions are invisible)
CLOSE_REPLACED = 4408  # the same student (or a second capture of the same call) opened the stream elsewhere
CLOSE_NOT_LIVE = 4409  # the session is scheduled, ended or cancelled
CLOSE_SESSION_ENDED = 4410  # the session ended while streaming
CLOSE_TOO_FAST = 4429  # frames kept coming faster than the session's rate after too_fast replies (a flood)
CLOSE_UNAVAILABLE = 4500  # the server cannot analyse frames (models not installed)
CLOSE_TRY_AGAIN = 4503  # the database is away right now: try again later (clients reconnect with backoff)

REFUSAL_CLOSE_CODES = {
    "not_authenticated": CLOSE_NOT_AUTHENTICATED,
    "not_a_student": CLOSE_FORBIDDEN,
    "not_enrolled": CLOSE_FORBIDDEN,
    "no_consent": CLOSE_FORBIDDEN,
    "not_live": CLOSE_NOT_LIVE,
}

# The live path's ORM calls run on this small pool rather than asgiref's single thread_sensitive thread, which
# also serves every connect's session/user lookup: a class joining at once would queue behind itself.
DB_THREADS = 4
_db_lock = threading.Lock()
_db_executor: ThreadPoolExecutor | None = None


def db_executor() -> ThreadPoolExecutor:
    global _db_executor
    with _db_lock:
        if _db_executor is None:
            _db_executor = ThreadPoolExecutor(max_workers=DB_THREADS, thread_name_prefix="fermonitor-live-db")
        return _db_executor


async def run(fn, *args):
    """Run a synchronous ORM function on the live DB pool (old connections are closed around it). SQLite takes
    one writer at a time anyway (and its shared-cache test database fails rather than waits), so there the
    calls stay on the single thread_sensitive thread."""
    if connections["default"].vendor == "sqlite":
        return await database_sync_to_async(fn)(*args)
    return await database_sync_to_async(fn, thread_sensitive=False, executor=db_executor())(*args)


def close_connections() -> None:
    """Close the pool's database connections (tests, before the test database is dropped)."""
    global _db_executor
    with _db_lock:
        pool, _db_executor = _db_executor, None
    if pool is None:
        return
    barrier = threading.Barrier(DB_THREADS)

    def close_mine():
        connections.close_all()
        barrier.wait(timeout=10)  # one task per thread

    for future in [pool.submit(close_mine) for _ in range(DB_THREADS)]:
        future.result()
    pool.shutdown(wait=True)


HISTORY_BUCKET_SECONDS = 10
RECENT_ALERTS = 50


class Denied(Exception):
    def __init__(self, close_code: int, code: str, message: str):
        super().__init__(message)
        self.close_code, self.code, self.message = close_code, code, message


@dataclass(frozen=True)
class SessionInfo:
    session_id: int
    uuid: str
    school_id: int
    title: str
    status: str
    settings: AlertSettings
    frame_width: int
    frame_height: int


@dataclass(frozen=True)
class StreamTicket:
    session: SessionInfo
    student_id: int
    student_name: str


def _info(session: LiveSession) -> SessionInfo:
    school = session.classroom.school
    return SessionInfo(
        session_id=session.pk,
        uuid=str(session.uuid),
        school_id=school.pk,
        title=session.title,
        status=session.status,
        settings=AlertSettings.for_session(session, presence_only=school.presence_only),
        frame_width=session.frame_width,
        frame_height=session.frame_height,
    )


def _find_session(user, session_uuid) -> LiveSession:
    queryset = LiveSession.objects.select_related("classroom", "classroom__school")
    session = queryset.filter(uuid=session_uuid).first()
    if session is None:
        raise Denied(CLOSE_UNKNOWN_SESSION, "unknown_session", "There is no such session.")
    return session


def open_stream(user, session_uuid) -> StreamTicket:
    """May `user` stream into the session? Raises `Denied` with the close code otherwise."""
    if not getattr(user, "is_authenticated", False):
        raise Denied(CLOSE_NOT_AUTHENTICATED, "not_authenticated", "Log in to join the session.")
    if user.school_id is None:
        raise Denied(CLOSE_FORBIDDEN, "not_a_student", "Only students of this class stream their camera.")
    with school_scope(user.school_id):
        session = _find_session(user, session_uuid)
        try:
            check_can_stream(user, session)
        except JoinRefused as refusal:
            raise Denied(
                REFUSAL_CLOSE_CODES.get(refusal.code, CLOSE_FORBIDDEN), refusal.code, refusal.message
            ) from None
        return StreamTicket(session=_info(session), student_id=user.pk, student_name=str(user))


def open_dashboard(user, session_uuid) -> SessionInfo:
    """May `user` watch the session's dashboard (its class's teacher, the school's admins, operators)?"""
    if not getattr(user, "is_authenticated", False):
        raise Denied(CLOSE_NOT_AUTHENTICATED, "not_authenticated", "Log in to watch the session.")
    if user.is_superuser:
        with scopes_disabled():
            session = _find_session(user, session_uuid)
            return _info(session)
    if user.school_id is None:
        raise Denied(
            CLOSE_FORBIDDEN, "forbidden", "Only the class's teacher and the school's admins watch it."
        )
    with school_scope(user.school_id):
        session = _find_session(user, session_uuid)
        if not can_manage_classroom(user, session.classroom):
            raise Denied(
                CLOSE_FORBIDDEN, "forbidden", "Only the class's teacher and the school's admins watch it."
            )
        return _info(session)


def session_status(session_id: int, school_id: int) -> str:
    with school_scope(school_id):
        return LiveSession.objects.values_list("status", flat=True).get(pk=session_id)


def session_info(session_id: int, school_id: int) -> SessionInfo:
    with school_scope(school_id):
        return _info(LiveSession.objects.select_related("classroom", "classroom__school").get(pk=session_id))


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def store_alert(session_id: int, school_id: int, alert: AlertEvent, dedupe_seconds: float | None = None):
    """Store an alert; with `dedupe_seconds`, skip it when the session already has one of that kind that recent
    (processes that all see the same class drop store it once). Returns the alert's dict, or None if skipped."""
    raised_at = _when(alert.at)
    with school_scope(school_id), transaction.atomic():
        if dedupe_seconds is not None:
            # Serialise the check-then-insert across processes on the session row.
            LiveSession.objects.select_for_update().filter(pk=session_id).first()
            recent = Alert.objects.filter(
                session_id=session_id,
                kind=alert.kind,
                student_id=alert.student_id,
                raised_at__gte=raised_at - timedelta(seconds=dedupe_seconds),
            )
            if recent.exists():
                return None
        stored = record_alert(
            session_id,
            alert.kind,
            alert.message,
            raised_at,
            student_id=alert.student_id,
            participant_id=alert.participant_id,
        )
    return _alert_dict(stored)


def _alert_dict(alert: Alert) -> dict:
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "message": alert.message,
        "at": alert.raised_at.timestamp(),
        "student_id": alert.student_id,
        "participant_id": alert.participant_id,
    }


def dashboard_history(info: SessionInfo) -> dict:
    """What a dashboard shows on (re)load: the roster with each student's last result, recent alerts and the
    class chart so far in HISTORY_BUCKET_SECONDS buckets. Four queries, whatever the class size."""
    presence_only = info.settings.presence_only
    with school_scope(info.school_id):
        session = LiveSession.objects.select_related("classroom").get(pk=info.session_id)
        roster = {
            e.student_id: str(e.student)
            for e in Enrolment.objects.filter(classroom_id=session.classroom_id).select_related("student")
        }
        samples = EmotionSample.objects.filter(session_id=info.session_id)
        newest = (
            samples.filter(student_id=OuterRef("student_id"), participant__isnull=True)
            .order_by("-captured_at")
            .values("captured_at")[:1]
        )
        latest = {}
        own = samples.filter(student__isnull=False, participant__isnull=True)  # students' own cameras
        for sample in own.filter(captured_at=Subquery(newest)):
            latest[sample.student_id] = {
                "faces": sample.face_count,
                "last_seen": _epoch(sample.captured_at),
                "emotion": "" if presence_only else sample.emotion,
                "confidence": None if presence_only else sample.confidence,
            }
        students = []
        for student_id, name in roster.items():
            state = {"id": student_id, "name": name, "connected": False, "streaming": False, "faces": 0}
            state.update({"last_seen": None, "n": 0})
            state.update(latest.get(student_id, {}))
            students.append(state)
        students.extend(participant_states(info))

        alerts = [
            _alert_dict(a) for a in Alert.objects.filter(session_id=info.session_id).order_by("-raised_at")
        ]
        alerts = alerts[:RECENT_ALERTS][::-1]

        valence_sum = sum(
            (Coalesce(F(f"p_{name}"), Value(0.0)) * weight for name, weight in VALENCE.items()), Value(0.0)
        )
        buckets = (
            samples.annotate(minute=TruncMinute("captured_at"), part=Floor(ExtractSecond("captured_at") / 10))
            .values("minute", "part")
            .annotate(
                total=Count("id"),
                faces=Count("id", filter=Q(face_count__gt=0)),
                valence=Sum(valence_sum, filter=Q(face_count__gt=0), output_field=FloatField()),
            )
            .order_by("minute", "part")
        )
        series = {}
        for row in buckets:
            t = row["minute"].timestamp() + int(row["part"]) * HISTORY_BUCKET_SECONDS
            if row["total"]:
                index = (
                    row["faces"] / row["total"] if presence_only else (row["valence"] or 0.0) / row["total"]
                )
            else:
                index = None
            series[t] = {"t": t, "index": None if index is None else round(index, 4), "faces": row["faces"]}
        if not presence_only:
            per_emotion = (
                samples.filter(face_count__gt=0)
                .exclude(emotion="")
                .annotate(minute=TruncMinute("captured_at"), part=Floor(ExtractSecond("captured_at") / 10))
                .values("minute", "part", "emotion")
                .annotate(n=Count("id"))
            )
            for row in per_emotion:
                t = row["minute"].timestamp() + int(row["part"]) * HISTORY_BUCKET_SECONDS
                point = series.get(t)
                if point is not None and point["faces"]:
                    point.setdefault("shares", {})[row["emotion"]] = round(row["n"] / point["faces"], 4)
    return {
        "type": "history",
        "session": {"uuid": info.uuid, "title": info.title, "status": info.status},
        "presence_only": presence_only,
        "bucket_seconds": HISTORY_BUCKET_SECONDS,
        "enrolled": len(roster),
        "students": students,
        "alerts": alerts,
        "series": sorted(series.values(), key=lambda p: p["t"]),
    }


# --- the teacher's capture of the video call ------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureTicket:
    session: SessionInfo
    user_id: int


def open_capture(user, session_uuid) -> CaptureTicket:
    """May `user` send the session's video call (screen capture) for analysis? The class's teacher and the
    school's admins, when the school has turned call capture on and the session is live. Raises `Denied`."""
    if not getattr(user, "is_authenticated", False):
        raise Denied(CLOSE_NOT_AUTHENTICATED, "not_authenticated", gettext("Log in to read the video call."))
    forbidden = gettext("Only the class's teacher and the school's admins can read the class's video call.")
    if user.school_id is None:  # platform operators watch dashboards, but do not capture a school's calls
        raise Denied(CLOSE_FORBIDDEN, "forbidden", forbidden)
    with school_scope(user.school_id):
        session = _find_session(user, session_uuid)
        if user.role not in (Role.TEACHER, Role.ADMIN) or not can_manage_classroom(user, session.classroom):
            raise Denied(CLOSE_FORBIDDEN, "forbidden", forbidden)
        school = session.classroom.school
        if not school.call_capture:
            raise Denied(
                CLOSE_FORBIDDEN,
                "capture_disabled",
                gettext(
                    "Your school has not turned on reading video calls. A school admin can turn it on in the "
                    "school settings."
                ),
            )
        if session.status != SessionStatus.LIVE:
            raise Denied(CLOSE_NOT_LIVE, "not_live", gettext("The session is not live: start it first."))
        return CaptureTicket(session=_info(session), user_id=user.pk)


@dataclass(frozen=True)
class ParticipantRef:
    """What the capture path needs of a `CallParticipant`: ids and the name its card shows."""

    pk: int
    uuid: str
    number: int
    student_id: int | None
    name: str


def _ref(participant) -> ParticipantRef:
    return ParticipantRef(
        pk=participant.pk,
        uuid=str(participant.uuid),
        number=participant.number,
        student_id=participant.student_id,
        name=participant.label,
    )


def participant_offset(session_id: int, school_id: int) -> int:
    with school_scope(school_id):
        return participant_number_offset(session_id)


def participants_for(session_id: int, school_id: int, numbers, seen_at: float) -> dict[int, ParticipantRef]:
    """Session participant number -> ref, created on first sight (anonymous, source: live call)."""
    with school_scope(school_id):
        rows = ensure_participants(
            session_id, numbers, source=ParticipantSource.LIVE_CALL, seen_at=_when(seen_at)
        )
        return {number: _ref(row) for number, row in rows.items()}


def assignment_names(session_id: int, school_id: int) -> list[tuple[str, str]]:
    """(uuid, name) of the session's enrolled, active students: what a tile's name label may be matched to."""
    with school_scope(school_id):
        session = LiveSession.objects.get(pk=session_id)
        return [
            (str(e.student.uuid), str(e.student))
            for e in Enrolment.objects.filter(
                classroom_id=session.classroom_id, student__is_active=True
            ).select_related("student")
        ]


def participant_states(info: SessionInfo) -> list[dict]:
    """Dashboard entries for the session's call participants so far, with their latest sample (two queries),
    shaped like `ParticipantState.public()` (not connected: the live capture republishes what it tracks)."""
    presence_only = info.settings.presence_only
    participants = list(
        CallParticipant.objects.filter(session_id=info.session_id)
        .select_related("student")
        .order_by("number")
    )
    if not participants:
        return []
    samples = EmotionSample.objects.filter(session_id=info.session_id, participant__isnull=False)
    newest = (
        samples.filter(participant_id=OuterRef("participant_id"))
        .order_by("-captured_at")
        .values("captured_at")[:1]
    )
    latest = {s.participant_id: s for s in samples.filter(captured_at=Subquery(newest))}
    states = []
    for p in participants:
        sample = latest.get(p.pk)
        state = {
            "id": participant_key(p.pk),
            "kind": "participant",
            "participant": str(p.uuid),
            "number": p.number,
            "student_id": p.student_id,
            "name": p.label,
            "connected": False,
            "streaming": False,
            "faces": sample.face_count if sample else 0,
            "last_seen": _epoch(sample.captured_at) if sample else None,
            "n": 0,
        }
        if not presence_only:
            state["emotion"] = sample.emotion if sample else ""
            state["confidence"] = sample.confidence if sample else None
        states.append(state)
    return states
