"""CSV exports of every report's underlying rows. Rows are generated lazily and streamed, so a long session or a
term of school data never sits in memory. Presence-only schools get no emotion columns."""

import csv
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse
from django.utils.text import slugify

from classes.tenancy import school_scope

from .models import EMOTIONS
from .reports import class_counters, emotion_stats, school_sessions, session_info


class _Echo:
    def write(self, value):
        return value


def _fmt(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return value


def streaming_csv(filename: str, header: list[str], rows: Iterable[list], school) -> StreamingHttpResponse:
    """Stream rows as CSV. The rows are produced after the view has returned, outside the request's school scope,
    so the generator enters the school's scope itself."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        with school_scope(school):
            for row in rows:
                yield writer.writerow([_fmt(v) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _emotion_header(presence_only: bool, prefix: str = "share_") -> list[str]:
    if presence_only:
        return []
    return [f"{prefix}{name}" for name in EMOTIONS] + ["dominant", "negative_share", "mood"]


def _emotion_values(stats: dict, presence_only: bool) -> list:
    if presence_only:
        return []
    distribution = stats.get("distribution") or {}
    return [distribution.get(name) for name in EMOTIONS] + [
        stats.get("dominant"),
        stats.get("negative_share"),
        stats.get("mood"),
    ]


def _session_name(session) -> str:
    return f"{slugify(session.classroom.name)}-{slugify(session.title)}-{session.uuid.hex[:8]}"


# --- session -------------------------------------------------------------------------------------------------


def session_minutes_csv(session, rows) -> StreamingHttpResponse:
    """One row per student per minute (StudentMinute roll-ups)."""
    presence_only = session.classroom.school.presence_only
    header = ["student", "student_uuid", "minute", "samples", "present_samples", "present"]
    if not presence_only:
        header += (
            ["emotion_samples"] + [f"mean_p_{name}" for name in EMOTIONS] + [f"n_{name}" for name in EMOTIONS]
        )

    def generate():
        for row in rows:
            values = [
                str(row.student),
                row.student.uuid,
                row.minute.isoformat(),
                row.samples,
                row.present_samples,
            ]
            values.append(int(row.present))
            if not presence_only:
                means = row.mean_probabilities or {}
                values += [row.emotion_samples] + [means.get(name) for name in EMOTIONS]
                values += [getattr(row, f"n_{name}") for name in EMOTIONS]
            yield values

    return streaming_csv(
        f"{_session_name(session)}-student-minutes.csv", header, generate(), session.classroom.school
    )


def session_students_csv(session, summary: dict) -> StreamingHttpResponse:
    presence_only = summary["presence_only"]
    header = ["student", "student_uuid", "enrolled", "minutes_seen", "minutes_present", "presence_share"]
    header += _emotion_header(presence_only)
    rows = (
        [
            s["name"],
            s["uuid"],
            int(s["enrolled"]),
            s["minutes_seen"],
            s["minutes_present"],
            s["presence_share"],
        ]
        + _emotion_values(s, presence_only)
        for s in summary["students"]
    )
    return streaming_csv(f"{_session_name(session)}-students.csv", header, rows, session.classroom.school)


def session_participants_csv(session, summary: dict) -> StreamingHttpResponse:
    """One row per anonymous call participant (assigned ones are rows of the students export)."""
    presence_only = summary["presence_only"]
    header = ["participant", "participant_uuid", "number", "source", "minutes_seen", "minutes_present"]
    header += ["presence_share"] + _emotion_header(presence_only)
    rows = (
        [p["name"], p["uuid"], p["number"], p["source"], p["minutes_seen"], p["minutes_present"]]
        + [p["presence_share"]]
        + _emotion_values(p, presence_only)
        for p in summary["participants"]
    )
    return streaming_csv(f"{_session_name(session)}-participants.csv", header, rows, session.classroom.school)


def session_timeline_csv(session, summary: dict) -> StreamingHttpResponse:
    """One row per minute of the whole class: students' cameras and the call's anonymous participants."""
    presence_only = summary["presence_only"]
    header = ["minute", "students_streaming", "students_present", "participants_streaming"]
    header += ["participants_present", "presence_share"]
    if not presence_only:
        header += [f"share_{name}" for name in EMOTIONS] + ["mood"]

    def generate():
        for t in summary["timeline"]:
            values = [
                t["minute"],
                t["students_streaming"],
                t["students_present"],
                t["participants_streaming"],
            ]
            values += [t["participants_present"], t["presence_share"]]
            if not presence_only:
                shares = t["shares"] or {}
                values += [shares.get(name) for name in EMOTIONS] + [t["mood"]]
            yield values

    return streaming_csv(
        f"{_session_name(session)}-timeline.csv", header, generate(), session.classroom.school
    )


# --- student -------------------------------------------------------------------------------------------------


def student_history_csv(student, history: dict) -> StreamingHttpResponse:
    presence_only = history["presence_only"]
    header = [
        "session_uuid",
        "session",
        "classroom",
        "started_at",
        "minutes_seen",
        "minutes_present",
        "presence_share",
    ]
    header += _emotion_header(presence_only)
    rows = (
        [s["uuid"], s["title"], s["classroom"], s["started_at"], s["minutes_seen"], s["minutes_present"]]
        + [s["presence_share"]]
        + _emotion_values(s, presence_only)
        for s in history["sessions"]
    )
    return streaming_csv(f"{slugify(str(student))}-history.csv", header, rows, student.school)


# --- school --------------------------------------------------------------------------------------------------


def school_sessions_csv(school, filters) -> StreamingHttpResponse:
    """One row per ended session in the filters, computed from the roll-ups in chunks: students attended from
    the student totals, the class figures (every face, call participants included) from the class minutes."""
    from django.db.models import Count

    from .models import StudentSession

    presence_only = school.presence_only
    header = [
        "session_uuid",
        "session",
        "classroom",
        "teacher",
        "started_at",
        "ended_at",
        "students_attended",
        "participants_seen",
    ]
    header += ["presence_share"] + _emotion_header(presence_only)

    def generate():
        sessions = (
            school_sessions(school, filters).select_related("classroom__teacher").order_by("started_at", "pk")
        )
        chunk = []
        for session in sessions.iterator(chunk_size=500):
            chunk.append(session)
            if len(chunk) == 500:
                yield from _session_rows(chunk)
                chunk = []
        if chunk:
            yield from _session_rows(chunk)

    def _session_rows(chunk):
        totals = class_counters(chunk)
        attended = dict(
            StudentSession.objects.filter(session__in=chunk)
            .values("session_id")
            .annotate(n=Count("id"))
            .order_by()
            .values_list("session_id", "n")
        )
        for session in chunk:
            info = session_info(session)
            row = totals.get(session.pk)
            values = [info["uuid"], info["title"], info["classroom"], info["teacher"], info["started_at"]]
            values += [info["ended_at"], attended.get(session.pk, 0), row["participants"] if row else 0]
            values.append(row["present_samples"] / row["samples"] if row and row["samples"] else None)
            values += _emotion_values(emotion_stats(row) if row else {}, presence_only)
            yield values

    return streaming_csv(
        f"{slugify(school.name)}-sessions-{filters.date_from}-{filters.date_to}.csv",
        header,
        generate(),
        school,
    )
