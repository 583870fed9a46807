"""Report contents, CSV exports, presence-only schools and pinned query counts."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from analytics import reports
from analytics.models import EMOTIONS
from analytics.services import record_samples
from classes.models import LiveSession, SessionStatus

from .conftest import HAPPY, SAD, add_students, records


def _csv(response):
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def _ended_session(cast, days_ago, title="Lesson"):
    start = (timezone.now() - timedelta(days=days_ago)).replace(second=0, microsecond=0)
    with scopes_disabled():
        return LiveSession.objects.create(
            classroom=cast.class_a,
            title=title,
            scheduled_start=start,
            status=SessionStatus.ENDED,
            started_at=start,
            ended_at=start + timedelta(minutes=10),
        )


# --- session report ------------------------------------------------------------------------------------------


def test_session_summary_counts_students_minutes_and_moods(reported_session, cast):
    with scopes_disabled():
        summary = reports.session_summary(reported_session)
    assert summary["overall"]["students_seen"] == 2
    assert summary["overall"]["minutes"] in (3, 4)  # 3 minutes of samples, aligned or not on a minute
    by_name = {s["name"]: s for s in summary["students"]}
    assert by_name["Sam Alpha"]["dominant"] == "happy" and by_name["Sam Alpha"]["negative_share"] == 0
    assert by_name["Nora Alpha"]["dominant"] == "sad" and by_name["Nora Alpha"]["negative_share"] == 1
    assert by_name["Nora Alpha"]["sparkline"][0] == 1.0
    first = summary["timeline"][0]
    assert first["students_streaming"] == 2
    assert first["shares"]["happy"] == pytest.approx(0.5) and first["shares"]["sad"] == pytest.approx(0.5)
    assert summary["alerts"][0]["student"]["name"] == "Nora Alpha"


def test_demo_session_report_marks_the_mood_drop_and_the_presence_dip(seeded_session, cast):
    from analytics.demo import GROUP_EXERCISE, LESSON_EVENTS

    with scopes_disabled():
        summary = reports.session_summary(seeded_session)
    drops = [m["index"] for m in summary["moments"] if m["kind"] == "mood_drop"]
    dips = [m["index"] for m in summary["moments"] if m["kind"] == "presence_dip"]
    hard_part = LESSON_EVENTS[1][0]
    assert any(hard_part - 2 <= i <= hard_part + 2 for i in drops), drops
    assert any(GROUP_EXERCISE[0] <= i <= GROUP_EXERCISE[1] + 1 for i in dips), dips


def test_session_report_page_has_charts_tables_and_exports(reported_session, cast, client_for):
    body = client_for(cast.tom).get(reverse("session_report", args=[reported_session.uuid])).content.decode()
    for needle in ('id="mood-chart"', 'id="presence-chart"', "class=\"sparkline\"", "Notable moments",
                   reverse("session_report_data", args=[reported_session.uuid]), "rows=students", "Nora Alpha",
                   "Nora looked sad", "chart.umd.min.js"):  # fmt: skip
        assert needle in body, needle


def test_session_csv_per_student_minute_matches_the_rollups(reported_session, cast, client_for):
    response = client_for(cast.tom).get(reverse("session_report_csv", args=[reported_session.uuid]))
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    rows = _csv(response)
    assert {r["student"] for r in rows} == {"Sam Alpha", "Nora Alpha"}
    assert sum(int(r["samples"]) for r in rows) == 72  # 2 students x 36 samples
    nora = [r for r in rows if r["student"] == "Nora Alpha"]
    assert all(float(r["mean_p_sad"]) == pytest.approx(0.70) for r in nora)
    assert sum(int(r["n_sad"]) for r in nora) == 36


def test_session_csv_students_and_timeline(reported_session, cast, client_for):
    client = client_for(cast.alice)
    url = reverse("session_report_csv", args=[reported_session.uuid])
    students = {r["student"]: r for r in _csv(client.get(url + "?rows=students"))}
    assert students["Sam Alpha"]["dominant"] == "happy" and students["Sam Alpha"]["share_happy"] == "1.0000"
    assert students["Nora Alpha"]["minutes_seen"] in ("3", "4")
    timeline = _csv(client.get(url + "?rows=timeline"))
    assert sum(int(r["students_streaming"]) for r in timeline) >= 6
    assert client.get(url + "?rows=nonsense").status_code == 404


# --- student history -----------------------------------------------------------------------------------------


def test_student_history_trend_and_presence_over_sessions(cast):
    sessions = [_ended_session(cast, days, f"Lesson {n}") for n, days in enumerate((21, 14, 7))]
    with scopes_disabled():
        for session, mood in zip(sessions, (HAPPY, SAD, SAD), strict=True):
            record_samples(records(session, cast.sam, session.started_at, 120, mood, step=4))
            record_samples(
                records(
                    session, cast.sam, session.started_at + timedelta(minutes=2), 60, face_count=0, step=4
                )
            )
        history = reports.student_history(cast.sam)
    assert [s["title"] for s in history["sessions"]] == ["Lesson 0", "Lesson 1", "Lesson 2"]
    assert [s["negative_share"] for s in history["sessions"]] == [0, 1, 1]
    assert history["trend"]["direction"] == "more negative"
    assert history["totals"]["presence_rate"] == pytest.approx(2 / 3, abs=0.12)
    assert history["totals"]["sessions_attended"] == 3


def test_student_history_csv_lists_sessions(reported_session, cast, client_for):
    rows = _csv(client_for(cast.sam).get(reverse("student_history_csv", args=[cast.sam.uuid])))
    assert [r["session"] for r in rows] == ["Mechanics"]
    assert rows[0]["dominant"] == "happy" and rows[0]["presence_share"] == "1.0000"


# --- school report -------------------------------------------------------------------------------------------


def test_school_report_flags_three_consecutive_negative_sessions(cast):
    students = add_students(cast, 2)
    sessions = [_ended_session(cast, days, f"Week {n}") for n, days in enumerate((22, 15, 8, 1))]
    with scopes_disabled():
        for n, session in enumerate(sessions):
            # sam is sad in the last three sessions; the others stay happy.
            record_samples(records(session, cast.sam, session.started_at, 120, SAD if n else HAPPY, step=6))
            for student in students:
                record_samples(records(session, student, session.started_at, 120, HAPPY, step=6))
        report = reports.school_report(cast.school_a, reports.SchoolReportFilters(negative_threshold=0.35))
    assert report["totals"]["sessions"] == 5  # with the cast's ended "Mechanics", held though nobody attended
    flagged = {f["name"]: f for f in report["flagged_students"]}
    assert list(flagged) == ["Sam Alpha"] and flagged["Sam Alpha"]["sessions"] == 3
    assert flagged["Sam Alpha"]["rule"] == "negative"
    assert report["flagged_classes"] == []  # the class as a whole is a third negative
    weeks = report["weeks"]
    assert len(weeks) >= 3 and weeks[0]["negative_change"] is None
    assert report["by_class"][0]["students_attended"] == 3


def test_school_report_filters_come_from_the_query_string(cast, client_for):
    _ended_session(cast, 40, "Old lesson")
    _ended_session(cast, 3, "Recent lesson")
    client = client_for(cast.alice)
    recent = json.loads(client.get(reverse("school_report_data")).content)  # default: last 8 weeks
    assert {s["title"] for s in recent["sessions"]} == {"Old lesson", "Recent lesson", "Mechanics"}
    today = timezone.localdate()
    url = reverse("school_report_data") + f"?date_from={today - timedelta(days=10)}&date_to={today}"
    assert {s["title"] for s in json.loads(client.get(url).content)["sessions"]} == {
        "Recent lesson",
        "Mechanics",
    }
    by_teacher = json.loads(client.get(reverse("school_report_data") + f"?teacher={cast.tess.uuid}").content)
    assert by_teacher["sessions"] == [] and by_teacher["filters"]["teacher"] == str(cast.tess.uuid)
    rows = _csv(client.get(url.replace("data.json", "export.csv")))
    assert {r["session"] for r in rows} == {"Recent lesson", "Mechanics"}
    page = client.get(url.replace("data.json", "")).content.decode()
    assert f'value="{today - timedelta(days=10)}"' in page  # the form shows the bookmarked filter


def test_school_report_rejects_inverted_dates_with_a_message(cast, client_for):
    response = client_for(cast.alice).get(
        reverse("school_report") + "?date_from=2026-05-01&date_to=2026-04-01"
    )
    assert response.status_code == 200
    assert "The end date is before the start date." in response.content.decode()


# --- presence-only schools -----------------------------------------------------------------------------------


EMOTION_WORDS = [
    *EMOTIONS,
    *(e.capitalize() for e in EMOTIONS),
    "mood",
    "Mood",
    "expression",
    "negative",
    "Negative",
]


def _assert_no_emotion(text: str, where: str):
    found = [word for word in EMOTION_WORDS if word in text]
    assert not found, f"{where} mentions {found}"


def test_presence_only_school_never_shows_an_emotion(reported_session, cast, client_for):
    # Even samples stored before the school switched to presence-only must not surface.
    with scopes_disabled():
        cast.school_a.presence_only = True
        cast.school_a.save()
    session, sam = reported_session.uuid, cast.sam.uuid
    pages = {
        "alice": [
            reverse("session_report", args=[session]),
            reverse("session_report_data", args=[session]),
            reverse("session_report_csv", args=[session]),
            reverse("session_report_csv", args=[session]) + "?rows=students",
            reverse("session_report_csv", args=[session]) + "?rows=timeline",
            reverse("student_history", args=[sam]),
            reverse("student_history_data", args=[sam]),
            reverse("student_history_csv", args=[sam]),
            reverse("student_session", args=[sam, session]),
            reverse("student_session_data", args=[sam, session]),
            reverse("school_report") + "?date_from=2000-01-01",
            reverse("school_report_data") + "?date_from=2000-01-01",
            reverse("school_report_csv") + "?date_from=2000-01-01",
        ],
        "sam": [reverse("my_data")],
    }
    for who, urls in pages.items():
        client = client_for(getattr(cast, who))
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            body = b"".join(response.streaming_content) if response.streaming else response.content
            _assert_no_emotion(body.decode(), url)
    summary = json.loads(client_for(cast.tom).get(reverse("session_report_data", args=[session])).content)
    assert summary["presence_only"] and summary["overall"]["presence_share"] == 1.0
    assert summary["alerts"] == []  # the stored "negative" alert is about emotions


# --- query counts ------------------------------------------------------------------------------------------


def _fill(cast, n_students):
    students = add_students(cast, n_students - 2)
    session = cast.a_ended
    with scopes_disabled():
        batch = []
        for student in [cast.sam, cast.nora, *students]:
            batch += records(session, student, session.started_at, 180, HAPPY, step=10)
        record_samples(batch)
        record_samples(records(session, cast.nora, session.started_at, 60, SAD, step=10))
    return session


REPORT_URLS = [
    ("session_report", "session"),
    ("session_report_data", "session"),
    ("session_report_csv", "session"),
    ("student_history", "student"),
    ("student_history_data", "student"),
    ("student_session", "student_session"),
    ("student_session_data", "student_session"),
    ("school_report", None),
    ("school_report_data", None),
    ("school_report_csv", None),
]


def _url(name, kind, cast):
    args = {
        "session": [cast.a_ended.uuid],
        "student": [cast.sam.uuid],
        "student_session": [cast.sam.uuid, cast.a_ended.uuid],
    }
    return reverse(name, args=args.get(kind, []))


# Per request, the same for 3 and for 10 students: 2 (auth session, user) + the access lookups + the report's
# fixed set of roll-up queries (+1 for the school name in the page header; pages without a header read the
# school too, for the school's default language when the user has not chosen one). Session reports read the
# call's anonymous participants (+1); school reports count them per session (+1; the CSV's chunk reads the class
# minutes, the participants and the students attended: +2).
EXPECTED_QUERIES = {
    "session_report": 9,
    "session_report_data": 10,
    "session_report_csv": 5,
    "student_history": 6,
    "student_history_data": 6,
    "student_session": 7,
    "student_session_data": 7,
    "school_report": 10,
    "school_report_data": 8,
    "school_report_csv": 7,
}


@pytest.mark.parametrize(("name", "kind"), REPORT_URLS)
@pytest.mark.parametrize("n_students", [3, 10])
def test_report_query_count_does_not_grow_with_students(
    cast, client_for, django_assert_num_queries, name, kind, n_students
):
    _fill(cast, n_students)
    client = client_for(cast.alice)
    url = _url(name, kind, cast)
    with django_assert_num_queries(EXPECTED_QUERIES[name]):
        response = client.get(url)
        if response.streaming:
            b"".join(response.streaming_content)  # streamed rows query while streaming
    assert response.status_code == 200
