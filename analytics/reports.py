"""Report data built from the roll-ups (never from raw samples): plain dicts of JSON-ready values.

Views, the CSV exports and the REST API all call these. Every function takes objects the caller already checked
access to, runs a fixed number of queries whatever the number of students, and omits every emotion key when the
school is presence-only (so no caller can show one by mistake).

Shares are fractions in [0, 1]; `mood` is the mean probability of happy minus that of the negative emotions
(angry, disgust, fear, sad), in [-1, 1]; times are ISO 8601 strings in UTC.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from classes.models import Classroom, Enrolment, LiveSession, SessionStatus, User

from .models import (
    EMOTIONS,
    NEGATIVE_EMOTIONS,
    Alert,
    AlertKind,
    CallParticipant,
    ParticipantMinute,
    SessionMinute,
    StudentMinute,
    StudentSession,
)
from .rollups import COUNTER_FIELDS, summed_totals

MOOD_DROP_MIN = 0.15  # a fall of the (smoothed) class mood index this large within 3 minutes is notable
PRESENCE_DIP_SHARE = 0.6  # fewer than this share of the class's peak visible is a notable moment
MAX_MOMENTS_PER_KIND = 3


# --- small helpers -------------------------------------------------------------------------------------------


def _get(row, name):
    return row[name] if isinstance(row, dict) else getattr(row, name)


def _ratio(part, whole) -> float | None:
    return part / whole if whole else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _sum_counters(rows) -> dict:
    totals = dict.fromkeys(COUNTER_FIELDS, 0)
    for row in rows:
        for name in COUNTER_FIELDS:
            totals[name] += _get(row, name)
    return totals


def emotion_stats(row) -> dict:
    """distribution (share of frames per top emotion), dominant, negative_share and mood of a counter row."""
    counts = {name: _get(row, f"n_{name}") for name in EMOTIONS}
    total = sum(counts.values())
    if not total:
        return {"distribution": None, "dominant": None, "negative_share": None, "mood": None}
    distribution = {name: counts[name] / total for name in EMOTIONS}
    scored = _get(row, "emotion_samples")
    mood = None
    if scored:
        negative = sum(_get(row, f"sum_p_{name}") for name in NEGATIVE_EMOTIONS)
        mood = (_get(row, "sum_p_happy") - negative) / scored
    return {
        "distribution": distribution,
        "dominant": max(EMOTIONS, key=counts.__getitem__),
        "negative_share": sum(distribution[name] for name in NEGATIVE_EMOTIONS),
        "mood": mood,
    }


def _negative_share(row) -> float | None:
    total = sum(_get(row, f"n_{name}") for name in EMOTIONS)
    return _ratio(sum(_get(row, f"n_{name}") for name in NEGATIVE_EMOTIONS), total)


def _with_emotions(item: dict, row, presence_only: bool) -> dict:
    if not presence_only:
        item.update(emotion_stats(row))
    return item


def _student_info(user: User) -> dict:
    return {"uuid": str(user.uuid), "name": str(user)}


def session_info(session: LiveSession) -> dict:
    classroom = session.classroom
    return {
        "uuid": str(session.uuid),
        "title": session.title,
        "classroom": classroom.name,
        "classroom_uuid": str(classroom.uuid),
        "teacher": str(classroom.teacher),
        "status": session.status,
        "scheduled_start": _iso(session.scheduled_start),
        "started_at": _iso(session.started_at),
        "ended_at": _iso(session.ended_at),
    }


def _slope(values: list[float]) -> float | None:
    """Least-squares slope per step of a series (None for fewer than two points)."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(points) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else None


# --- session report ------------------------------------------------------------------------------------------


def _participant_info(participant: CallParticipant) -> dict:
    return {"uuid": str(participant.uuid), "number": participant.number, "name": participant.anonymous_label}


def session_participants(session: LiveSession, presence_only: bool) -> list[dict]:
    """The session's anonymous call participants with their totals over the session (from ParticipantMinute),
    in number order. Assigned participants are not listed: their results are their student's. Two queries."""
    participants = {
        p.pk: p
        for p in CallParticipant.objects.filter(session=session, student__isnull=True).order_by("number")
    }
    if not participants:
        return []
    rows = {
        row["participant_id"]: row
        for row in ParticipantMinute.objects.filter(session=session, participant_id__in=list(participants))
        .values("participant_id")
        .annotate(
            minutes_seen=Count("id"), minutes_present=Count("id", filter=Q(present=True)), **summed_totals()
        )
        .order_by()
    }
    items = []
    for pk, participant in participants.items():
        row = rows.get(pk)
        item = {
            **_participant_info(participant),
            "source": participant.source,
            "minutes_seen": row["minutes_seen"] if row else 0,
            "minutes_present": row["minutes_present"] if row else 0,
            "presence_share": _ratio(row["present_samples"], row["samples"]) if row else None,
        }
        if not presence_only:
            item.update(
                emotion_stats(row)
                if row
                else {"distribution": None, "dominant": None, "negative_share": None, "mood": None}
            )
        items.append(item)
    return items


def session_summary(session: LiveSession, *, sparklines: bool = True) -> dict:
    """Everything the session report shows. Six queries (seven with sparklines).

    Returns::

        {
          "session": {uuid, title, classroom, classroom_uuid, teacher, status, scheduled_start, started_at,
                      ended_at},
          "presence_only": bool,
          "overall": {minutes, samples, students_enrolled, students_seen, participants_seen, presence_share,
                      + distribution {emotion: share}, dominant, negative_share, mood},
          "timeline": [{minute, students_streaming, students_present, participants_streaming,
                        participants_present, presence_share,
                        + shares {emotion: share of frames}, mean_probabilities {emotion: p}, mood}],
          "students": [{uuid, name, enrolled, minutes_seen, minutes_present, presence_share,
                        + distribution, dominant, negative_share, mood,
                        sparkline: [per timeline minute: negative share (presence share if presence-only) | None]}],
          "participants": [{uuid, number, name, source, minutes_seen, minutes_present, presence_share,
                            + distribution, dominant, negative_share, mood}],
          "alerts": [{kind, label, message, raised_at, student: {uuid, name} | None,
                      participant: {uuid, number, name} | None}],
          "moments": [{minute, index (into timeline), kind: "mood_drop" | "presence_dip", label, value}],
        }

    Class figures (overall, timeline, moments) cover every face: students' own cameras and a video call's
    participants. `participants` are the anonymous call participants (an assigned one counts as its student);
    `participants_*` in the timeline count them. `+` keys are absent for presence-only schools; `sparkline` only
    with sparklines=True.
    """
    presence_only = session.classroom.school.presence_only
    minutes = list(SessionMinute.objects.filter(session=session).order_by("minute"))
    totals = list(StudentSession.objects.filter(session=session).select_related("student"))
    enrolled = [
        e.student
        for e in Enrolment.objects.filter(classroom_id=session.classroom_id).select_related("student")
    ]
    alerts = (
        Alert.objects.filter(session=session).select_related("student", "participant").order_by("raised_at")
    )
    if presence_only:
        alerts = alerts.filter(kind=AlertKind.NO_FACE)  # the other kinds are about emotions
    participants = session_participants(session, presence_only)

    timeline = []
    for m in minutes:
        streaming = m.students_streaming + m.participants_streaming
        item = {
            "minute": _iso(m.minute),
            "students_streaming": m.students_streaming,
            "students_present": m.students_present,
            "participants_streaming": m.participants_streaming,
            "participants_present": m.participants_present,
            "presence_share": _ratio(m.students_present + m.participants_present, streaming),
        }
        if not presence_only:
            stats = emotion_stats(m)
            item["shares"] = stats["distribution"]
            item["mean_probabilities"] = m.mean_probabilities
            item["mood"] = stats["mood"]
        timeline.append(item)

    series: dict[int, list] = {}
    if sparklines:
        index = {m.minute: i for i, m in enumerate(minutes)}
        fields = ["student_id", "minute", "samples", "present_samples"]
        if not presence_only:
            fields += [f"n_{name}" for name in EMOTIONS]
        for row in StudentMinute.objects.filter(session=session).values(*fields):
            line = series.setdefault(row["student_id"], [None] * len(minutes))
            i = index.get(row["minute"])
            if i is None:
                continue
            if presence_only:
                line[i] = _ratio(row["present_samples"], row["samples"])
            else:
                line[i] = _negative_share(row)

    enrolled_ids = {s.pk for s in enrolled}
    students = []
    seen = set()
    for row in totals:
        seen.add(row.student_id)
        item = {
            **_student_info(row.student),
            "enrolled": row.student_id in enrolled_ids,
            "minutes_seen": row.minutes_seen,
            "minutes_present": row.minutes_present,
            "presence_share": row.presence_share,
        }
        _with_emotions(item, row, presence_only)
        if sparklines:
            item["sparkline"] = series.get(row.student_id, [None] * len(minutes))
        students.append(item)
    for student in enrolled:
        if student.pk not in seen:
            item = {**_student_info(student), "enrolled": True, "minutes_seen": 0, "minutes_present": 0}
            item["presence_share"] = None
            if not presence_only:
                item.update(distribution=None, dominant=None, negative_share=None, mood=None)
            if sparklines:
                item["sparkline"] = [None] * len(minutes)
            students.append(item)
    students.sort(key=lambda s: s["name"].lower())

    overall_counts = _sum_counters(minutes)
    overall = {
        "minutes": len(minutes),
        "samples": overall_counts["samples"],
        "students_enrolled": len(enrolled),
        "students_seen": len(totals),
        "participants_seen": sum(1 for p in participants if p["minutes_seen"]),
        "presence_share": _ratio(overall_counts["present_samples"], overall_counts["samples"]),
    }
    _with_emotions(overall, overall_counts, presence_only)

    return {
        "session": session_info(session),
        "presence_only": presence_only,
        "overall": overall,
        "timeline": timeline,
        "students": students,
        "participants": participants,
        "alerts": [
            {
                "kind": a.kind,
                "label": a.get_kind_display(),
                "message": a.message,
                "raised_at": _iso(a.raised_at),
                "student": _student_info(a.student) if a.student else None,
                "participant": _participant_info(a.participant) if a.participant else None,
            }
            for a in alerts
        ],
        "moments": notable_moments(timeline, presence_only),
    }


def _spread(candidates: list[tuple[float, int]], min_gap: int) -> list[tuple[float, int]]:
    """The strongest candidates (most negative first) at least `min_gap` minutes apart."""
    picked: list[tuple[float, int]] = []
    for value, i in sorted(candidates):
        if all(abs(i - j) >= min_gap for _, j in picked):
            picked.append((value, i))
        if len(picked) == MAX_MOMENTS_PER_KIND:
            break
    return sorted(picked, key=lambda p: p[1])


def notable_moments(timeline: list[dict], presence_only: bool) -> list[dict]:
    """The largest mood drops (within three minutes, smoothed) and the minutes when fewest faces were visible."""
    moments = []
    if not presence_only:
        # Smooth over three minutes first, so that one noisy minute of a small class is not a "moment".
        raw = [(i, t["mood"]) for i, t in enumerate(timeline) if t.get("mood") is not None]
        moods = []
        for k, (i, _mood) in enumerate(raw):
            window = [m for _i, m in raw[max(0, k - 1) : k + 2]]
            moods.append((i, sum(window) / len(window)))
        drops = []
        for k in range(1, len(moods)):
            i, mood = moods[k]
            before = max(m for _i, m in moods[max(0, k - 3) : k])
            if mood - before <= -MOOD_DROP_MIN:
                drops.append((mood - before, i))
        for delta, i in _spread(drops, 5):
            moments.append(
                {
                    "minute": timeline[i]["minute"],
                    "index": i,
                    "kind": "mood_drop",
                    "label": _("Class mood fell by %(drop).2f (to %(mood)+.2f)")
                    % {"drop": -delta, "mood": timeline[i]["mood"]},
                    "value": delta,
                }
            )

    # Everyone the class figures count: students and anonymous call participants.
    def streaming(t):
        return t["students_streaming"] + t.get("participants_streaming", 0)

    def present(t):
        return t["students_present"] + t.get("participants_present", 0)

    peak = max((streaming(t) for t in timeline), default=0)
    if peak:
        dips = []
        for i, t in enumerate(timeline):
            share = present(t) / peak
            if share < PRESENCE_DIP_SHARE:
                dips.append((share, i))
        for share, i in _spread(dips, 5):
            moments.append(
                {
                    "minute": timeline[i]["minute"],
                    "index": i,
                    "kind": "presence_dip",
                    "label": _("Only %(present)d of %(peak)d students visible")
                    % {"present": present(timeline[i]), "peak": peak},
                    "value": share,
                }
            )
    return sorted(moments, key=lambda m: m["index"])


def student_minute_rows(session: LiveSession):
    """Per student and minute roll-ups of one session, for the CSV export (an iterator of model rows)."""
    return (
        StudentMinute.objects.filter(session=session)
        .select_related("student")
        .order_by("student__last_name", "student__first_name", "student_id", "minute")
        .iterator(chunk_size=2000)
    )


# --- student history -----------------------------------------------------------------------------------------


def student_history(
    student: User, *, classrooms=None, date_from: date | None = None, date_to: date | None = None
) -> dict:
    """One student's sessions over time. `classrooms` limits it (a teacher sees their own classes only).
    Two queries.

    Returns::

        {
          "student": {uuid, name},
          "presence_only": bool,
          "sessions": [{**session info, minutes_seen, minutes_present, presence_share,
                        + distribution, dominant, negative_share, mood}],   # oldest first
          "totals": {sessions_attended, sessions_held, attendance_rate, minutes_seen, minutes_present,
                     presence_rate, + distribution, dominant, negative_share, mood},
          "trend": {presence_per_session, + negative_share_per_session, mood_per_session, direction},
        }
    """
    presence_only = student.school.presence_only if student.school_id else False
    rows = StudentSession.objects.filter(student=student).select_related(
        "session", "session__classroom__teacher"
    )
    held = LiveSession.objects.filter(classroom__enrolments__student=student, status=SessionStatus.ENDED)
    if classrooms is not None:
        rows = rows.filter(session__classroom__in=classrooms)
        held = held.filter(classroom__in=classrooms)
    if date_from:
        rows = rows.filter(first_minute__gte=_day_start(date_from))
        held = held.filter(started_at__gte=_day_start(date_from))
    if date_to:
        rows = rows.filter(first_minute__lt=_day_start(date_to + timedelta(days=1)))
        held = held.filter(started_at__lt=_day_start(date_to + timedelta(days=1)))
    rows = list(rows.order_by("first_minute"))
    sessions_held = held.distinct().count()

    sessions = []
    for row in rows:
        item = {
            **session_info(row.session),
            "minutes_seen": row.minutes_seen,
            "minutes_present": row.minutes_present,
            "presence_share": _ratio(row.minutes_present, row.minutes_seen),
        }
        sessions.append(_with_emotions(item, row, presence_only))

    counts = _sum_counters(rows)
    minutes_seen = sum(r.minutes_seen for r in rows)
    minutes_present = sum(r.minutes_present for r in rows)
    totals = {
        "sessions_attended": len(rows),
        "sessions_held": max(sessions_held, len(rows)),
        "attendance_rate": _ratio(len(rows), max(sessions_held, len(rows))),
        "minutes_seen": minutes_seen,
        "minutes_present": minutes_present,
        "presence_rate": _ratio(minutes_present, minutes_seen),
    }
    _with_emotions(totals, counts, presence_only)

    trend = {"presence_per_session": _slope([s["presence_share"] for s in sessions])}
    if not presence_only:
        negative = _slope([s["negative_share"] for s in sessions])
        trend["negative_share_per_session"] = negative
        trend["mood_per_session"] = _slope([s["mood"] for s in sessions])
        trend["direction"] = (
            "not enough sessions"
            if negative is None
            else "more negative"
            if negative > 0.01
            else "less negative"
            if negative < -0.01
            else "steady"
        )
    return {
        "student": _student_info(student),
        "presence_only": presence_only,
        "sessions": sessions,
        "totals": totals,
        "trend": trend,
    }


def student_session_series(student: User, session: LiveSession) -> dict:
    """One student's minute-by-minute timeline in one session, with the class for comparison. Two queries.

    Returns::

        {
          "session": {session info}, "student": {uuid, name}, "presence_only": bool,
          "minutes": [{minute, samples, present_samples, presence_share, present,
                       + shares, mean_probabilities, mood, class_mood}],
          "totals": {minutes_seen, minutes_present, presence_share, + distribution, dominant, negative_share, mood},
        }
    """
    presence_only = session.classroom.school.presence_only
    rows = list(StudentMinute.objects.filter(session=session, student=student).order_by("minute"))
    class_mood = {}
    if not presence_only:
        for m in SessionMinute.objects.filter(session=session, minute__in=[r.minute for r in rows]):
            class_mood[m.minute] = emotion_stats(m)["mood"]
    minutes = []
    for r in rows:
        item = {
            "minute": _iso(r.minute),
            "samples": r.samples,
            "present_samples": r.present_samples,
            "presence_share": r.presence_share,
            "present": r.present,
        }
        if not presence_only:
            stats = emotion_stats(r)
            item.update(
                shares=stats["distribution"],
                mean_probabilities=r.mean_probabilities,
                mood=stats["mood"],
                class_mood=class_mood.get(r.minute),
            )
        minutes.append(item)
    counts = _sum_counters(rows)
    totals = {
        "minutes_seen": len(rows),
        "minutes_present": sum(1 for r in rows if r.present),
        "presence_share": _ratio(counts["present_samples"], counts["samples"]),
    }
    _with_emotions(totals, counts, presence_only)
    return {
        "session": session_info(session),
        "student": _student_info(student),
        "presence_only": presence_only,
        "minutes": minutes,
        "totals": totals,
    }


# --- school report -------------------------------------------------------------------------------------------


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass
class SchoolReportFilters:
    """What a school report covers and which rules flag a class or a student."""

    date_from: date = field(default_factory=lambda: timezone.localdate() - timedelta(weeks=8))
    date_to: date = field(default_factory=timezone.localdate)
    classroom: Classroom | None = None
    teacher: User | None = None
    negative_threshold: float = 0.35  # flag: share of negative frames above this ...
    presence_threshold: float = 0.6  # ... or presence below this ...
    consecutive: int = 3  # ... in this many consecutive sessions

    def as_dict(self) -> dict:
        return {
            "date_from": self.date_from.isoformat(),
            "date_to": self.date_to.isoformat(),
            "classroom": str(self.classroom.uuid) if self.classroom else None,
            "teacher": str(self.teacher.uuid) if self.teacher else None,
            "negative_threshold": self.negative_threshold,
            "presence_threshold": self.presence_threshold,
            "consecutive": self.consecutive,
        }


def school_sessions(school, filters: SchoolReportFilters):
    """The ended sessions a school report covers (a queryset)."""
    sessions = LiveSession.objects.filter(
        classroom__school=school,
        status=SessionStatus.ENDED,
        started_at__gte=_day_start(filters.date_from),
        started_at__lt=_day_start(filters.date_to + timedelta(days=1)),
    )
    if filters.classroom is not None:
        sessions = sessions.filter(classroom=filters.classroom)
    if filters.teacher is not None:
        sessions = sessions.filter(classroom__teacher=filters.teacher)
    return sessions


_NEGATIVE_COUNT = sum((F(f"n_{name}") for name in NEGATIVE_EMOTIONS[1:]), F(f"n_{NEGATIVE_EMOTIONS[0]}"))
_TOP_COUNT = sum((F(f"n_{name}") for name in EMOTIONS[1:]), F(f"n_{EMOTIONS[0]}"))


def _runs(items: list[tuple], predicate, length: int) -> list[list[tuple]]:
    """Maximal runs of at least `length` consecutive items satisfying predicate."""
    runs, current = [], []
    for item in items:
        if predicate(item):
            current.append(item)
        else:
            if len(current) >= length:
                runs.append(current)
            current = []
    if len(current) >= length:
        runs.append(current)
    return runs


def _flags(series: list[tuple], filters: SchoolReportFilters, presence_only: bool) -> list[dict]:
    """Rule hits in one chronological series of (started_at, presence_share, negative_share)."""
    flags = []
    rules = [
        (
            "presence",
            lambda item: item[1] is not None and item[1] < filters.presence_threshold,
            f"presence below {filters.presence_threshold:.0%}",
        )
    ]
    if not presence_only:
        rules.insert(
            0,
            (
                "negative",
                lambda item: item[2] is not None and item[2] > filters.negative_threshold,
                f"negative share above {filters.negative_threshold:.0%}",
            ),
        )
    for rule, predicate, text in rules:
        for run in _runs(series, predicate, filters.consecutive):
            flags.append(
                {
                    "rule": rule,
                    "sessions": len(run),
                    "from": _iso(run[0][0]),
                    "to": _iso(run[-1][0]),
                    "reason": f"{text} in {len(run)} consecutive sessions "
                    f"({run[0][0]:%d %b} to {run[-1][0]:%d %b})",
                }
            )
    return flags


def class_counters(sessions) -> dict[int, dict]:
    """session id -> the class's counters summed over its minutes (every face, call participants included) and
    `participants`, the number of anonymous call participants seen. Two queries."""
    per_session = {
        row["session_id"]: {**row, "participants": 0}
        for row in SessionMinute.objects.filter(session__in=sessions)
        .values("session_id")
        .annotate(**summed_totals())
        .order_by()
    }
    for session_id, n in (
        ParticipantMinute.objects.filter(session__in=sessions)
        .values("session_id")
        .annotate(n=Count("participant_id", distinct=True))
        .order_by()
        .values_list("session_id", "n")
    ):
        if session_id in per_session:
            per_session[session_id]["participants"] = n
    return per_session


def school_report(school, filters: SchoolReportFilters | None = None) -> dict:
    """A school's sessions in a date range, by class, by teacher and by week, with flagged classes and students.
    Six queries whatever the number of sessions or students. Class figures count call participants too;
    attendance and flags are about students.

    Returns::

        {
          "filters": {date_from, date_to, classroom, teacher, negative_threshold, presence_threshold,
                      consecutive},
          "presence_only": bool,
          "totals": {sessions, classes, students_attended, presence_share, attendance_rate,
                     + distribution, dominant, negative_share, mood},
          "sessions": [{**session info, students_enrolled, students_attended, participants_seen, attendance_rate,
                        presence_share, + distribution, dominant, negative_share, mood}],          # oldest first
          "by_class": [{uuid, name, teacher, sessions, students_attended, attendance_rate, presence_share, +...}],
          "by_teacher": [{uuid, name, classes, sessions, attendance_rate, presence_share, +...}],
          "weeks": [{week_start (date), sessions, attendance_rate, presence_share, presence_change,
                     + distribution, negative_share, negative_change, mood}],
          "flagged_classes": [{uuid, name, teacher, rule, sessions, from, to, reason}],
          "flagged_students": [{uuid, name, rule, sessions, from, to, reason}],
        }

    `*_change` is the difference from the previous week with sessions (None for the first).
    """
    filters = filters or SchoolReportFilters()
    presence_only = school.presence_only
    session_qs = school_sessions(school, filters)
    sessions = list(session_qs.select_related("classroom__teacher").order_by("started_at", "pk"))
    # Class figures come from the class minutes, which count every face (students and call participants).
    per_session = class_counters(session_qs)
    enrolled = dict(
        Enrolment.objects.filter(classroom__in={s.classroom_id for s in sessions})
        .values("classroom_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("classroom_id", "n")
    )
    student_rows = list(
        StudentSession.objects.filter(session__in=session_qs)
        .annotate(negative=_NEGATIVE_COUNT, top=_TOP_COUNT)
        .values("session_id", "student_id", "samples", "present_samples", "negative", "top")
        .order_by("first_minute", "session_id")
    )

    attended_per_session = defaultdict(int)
    for row in student_rows:
        attended_per_session[row["session_id"]] += 1

    empty = {**dict.fromkeys(COUNTER_FIELDS, 0), "participants": 0}
    session_items = []
    for s in sessions:
        counters = per_session.get(s.pk, empty)
        n_enrolled = enrolled.get(s.classroom_id, 0)
        attended = attended_per_session[s.pk]
        item = {
            **session_info(s),
            "students_enrolled": n_enrolled,
            "students_attended": attended,
            "participants_seen": counters["participants"],
            "attendance_rate": _ratio(attended, n_enrolled),
            "presence_share": _ratio(counters["present_samples"], counters["samples"]),
        }
        session_items.append(_with_emotions(item, counters, presence_only))

    def group(keyed: dict[object, list[int]]) -> dict:
        """Totals of groups of session indexes."""
        out = {}
        for key, indexes in keyed.items():
            counters = _sum_counters(per_session.get(sessions[i].pk, empty) for i in indexes)
            attended = sum(session_items[i]["students_attended"] for i in indexes)
            possible = sum(session_items[i]["students_enrolled"] for i in indexes)
            item = {
                "sessions": len(indexes),
                "attendance_rate": _ratio(attended, possible),
                "presence_share": _ratio(counters["present_samples"], counters["samples"]),
            }
            out[key] = _with_emotions(item, counters, presence_only)
        return out

    by_class_keys, by_teacher_keys, by_week_keys = defaultdict(list), defaultdict(list), defaultdict(list)
    for i, s in enumerate(sessions):
        by_class_keys[s.classroom].append(i)
        by_teacher_keys[s.classroom.teacher].append(i)
        day = timezone.localtime(s.started_at).date()
        by_week_keys[day - timedelta(days=day.weekday())].append(i)

    students_by_class = defaultdict(set)
    class_of_session = {s.pk: s.classroom for s in sessions}
    for row in student_rows:
        students_by_class[class_of_session[row["session_id"]]].add(row["student_id"])

    by_class = []
    for classroom, item in group(by_class_keys).items():
        by_class.append(
            {
                "uuid": str(classroom.uuid),
                "name": classroom.name,
                "teacher": str(classroom.teacher),
                "students_attended": len(students_by_class[classroom]),
                **item,
            }
        )
    by_class.sort(key=lambda c: c["name"].lower())

    by_teacher = []
    for teacher, item in group(by_teacher_keys).items():
        classes = {sessions[i].classroom_id for i in by_teacher_keys[teacher]}
        by_teacher.append({"uuid": str(teacher.uuid), "name": str(teacher), "classes": len(classes), **item})
    by_teacher.sort(key=lambda t: t["name"].lower())

    weeks = []
    previous = None
    for week_start, item in sorted(group(by_week_keys).items()):
        item = {"week_start": week_start.isoformat(), **item}
        item["presence_change"] = (
            item["presence_share"] - previous["presence_share"]
            if previous and item["presence_share"] is not None and previous["presence_share"] is not None
            else None
        )
        if not presence_only:
            item["negative_change"] = (
                item["negative_share"] - previous["negative_share"]
                if previous and item["negative_share"] is not None and previous["negative_share"] is not None
                else None
            )
        weeks.append(item)
        previous = item

    flagged_classes = []
    for classroom, indexes in by_class_keys.items():
        series = [
            (
                sessions[i].started_at,
                session_items[i]["presence_share"],
                session_items[i].get("negative_share"),
            )
            for i in indexes
        ]
        for flag in _flags(series, filters, presence_only):
            flagged_classes.append(
                {
                    "uuid": str(classroom.uuid),
                    "name": classroom.name,
                    "teacher": str(classroom.teacher),
                    **flag,
                }
            )

    started = {s.pk: s.started_at for s in sessions}
    per_student = defaultdict(list)
    for row in student_rows:
        per_student[row["student_id"]].append(
            (
                started[row["session_id"]],
                _ratio(row["present_samples"], row["samples"]),
                _ratio(row["negative"], row["top"]),
            )
        )
    student_flags = {}
    for student_id, series in per_student.items():
        series.sort(key=lambda item: item[0])
        hits = _flags(series, filters, presence_only)
        if hits:
            student_flags[student_id] = hits
    names = {u.pk: u for u in User.objects.filter(pk__in=list(student_flags))} if student_flags else {}
    flagged_students = [
        {**_student_info(names[student_id]), **flag}
        for student_id, hits in student_flags.items()
        for flag in hits
        if student_id in names
    ]
    flagged_students.sort(key=lambda f: (f["name"].lower(), f["from"]))

    all_counters = _sum_counters(per_session.values())
    attended = sum(s["students_attended"] for s in session_items)
    possible = sum(s["students_enrolled"] for s in session_items)
    totals = {
        "sessions": len(sessions),
        "classes": len(by_class_keys),
        "students_attended": len({row["student_id"] for row in student_rows}),
        "attendance_rate": _ratio(attended, possible),
        "presence_share": _ratio(all_counters["present_samples"], all_counters["samples"]),
    }
    _with_emotions(totals, all_counters, presence_only)

    shown_filters = filters.as_dict()
    if presence_only:
        del shown_filters["negative_threshold"]
    return {
        "filters": shown_filters,
        "presence_only": presence_only,
        "totals": totals,
        "sessions": session_items,
        "by_class": by_class,
        "by_teacher": by_teacher,
        "weeks": weeks,
        "flagged_classes": flagged_classes,
        "flagged_students": flagged_students,
    }


def emotion_names(presence_only: bool) -> tuple[str, ...]:
    return () if presence_only else EMOTIONS
