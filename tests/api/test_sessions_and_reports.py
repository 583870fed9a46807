"""Scheduling and running sessions over the API, and the report data an LMS pulls afterwards."""

from datetime import timedelta

from django.utils import timezone
from django_scopes import scopes_disabled

from analytics.models import EmotionSample
from classes.models import LiveSession, SessionStatus

from .conftest import client_for_user, record_lesson


def test_schedule_then_start_then_end(api_a, cast):
    start = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    created = api_a.post(
        "/api/v1/sessions/",
        {
            "classroom": str(cast.class_a.uuid),
            "title": "Lenses",
            "lms_id": "ev-1",
            "scheduled_start": start.isoformat(),
            "planned_minutes": 50,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["status"], body["planned_minutes"], body["lms_id"]) == ("scheduled", 50, "ev-1")
    with scopes_disabled():
        session = LiveSession.objects.get(uuid=body["uuid"])
    assert session.planned_duration == timedelta(minutes=50)
    assert session.classroom == cast.class_a

    started = api_a.post(f"/api/v1/sessions/{session.uuid}/start/").json()
    assert started["status"] == "live" and started["started_at"].endswith("Z")
    ended = api_a.post(f"/api/v1/sessions/{session.uuid}/end/").json()
    assert ended["status"] == "ended"


def test_impossible_transitions_are_409_with_the_reason(api_a, cast):
    response = api_a.post(f"/api/v1/sessions/{cast.a_ended.uuid}/start/")
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "invalid_transition",
        "message": "This session has already ended and cannot be started again.",
    }
    assert api_a.post(f"/api/v1/sessions/{cast.a_live.uuid}/cancel/").status_code == 409
    with scopes_disabled():
        assert LiveSession.objects.get(pk=cast.a_live.pk).status == SessionStatus.LIVE


def test_a_started_session_keeps_its_schedule_but_can_be_renamed(api_a, cast):
    path = f"/api/v1/sessions/{cast.a_live.uuid}/"
    moved = api_a.patch(
        path, {"scheduled_start": "2031-01-01T10:00:00Z", "planned_minutes": 90}, format="json"
    )
    assert moved.status_code == 400
    assert set(moved.json()["error"]["fields"]) == {"scheduled_start", "planned_minutes"}
    renamed = api_a.patch(path, {"title": "Optics II", "lms_id": "ev-9"}, format="json")
    assert renamed.status_code == 200
    assert renamed.json()["title"] == "Optics II"


def test_a_session_cannot_move_to_another_class(api_a, cast):
    from classes.models import Classroom

    with scopes_disabled():
        other = Classroom.objects.create(school=cast.school_a, name="Other", teacher=cast.tom)
    response = api_a.patch(
        f"/api/v1/sessions/{cast.a_scheduled.uuid}/", {"classroom": str(other.uuid)}, format="json"
    )
    assert response.status_code == 400


def test_sessions_filter_by_class_status_and_date_range(api_a, cast):
    def uuids(query):
        response = api_a.get(f"/api/v1/sessions/{query}")
        assert response.status_code == 200, response.content
        return {s["uuid"] for s in response.json()["results"]}

    a_all = {str(s.uuid) for s in (cast.a_live, cast.a_scheduled, cast.a_ended)}
    assert uuids(f"?classroom={cast.class_a.uuid}") == a_all
    assert uuids("?status=live") == {str(cast.a_live.uuid)}
    assert uuids("?status=live&status=ended") == {str(cast.a_live.uuid), str(cast.a_ended.uuid)}
    after = (timezone.now() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert uuids(f"?scheduled_after={after}") == {str(cast.a_scheduled.uuid)}
    before = (timezone.now() - timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    assert uuids(f"?scheduled_before={before}") == {str(cast.a_ended.uuid)}
    bad = api_a.get("/api/v1/sessions/?status=paused&scheduled_after=yesterday")
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"status", "scheduled_after"}
    ordered = api_a.get("/api/v1/sessions/?ordering=scheduled_start").json()["results"]
    assert [s["title"] for s in ordered] == ["Mechanics", "Optics", "Waves"]


def test_summary_has_presence_mood_and_a_timeline(api_a, lesson):
    response = api_a.get(f"/api/v1/sessions/{lesson.uuid}/summary/")
    assert response.status_code == 200
    summary = response.json()
    assert summary["overall"]["minutes"] == 3
    assert summary["overall"]["students_seen"] == 2
    assert summary["overall"]["presence_share"] == 0.9  # every tenth frame had no face
    assert set(summary["overall"]["distribution"]) == {
        "angry",
        "disgust",
        "fear",
        "happy",
        "sad",
        "surprise",
        "neutral",
    }
    assert [m["students_streaming"] for m in summary["timeline"]] == [2, 2, 2]
    assert {s["name"] for s in summary["students"]} == {"Sam Alpha", "Nora Alpha"}


def test_summary_etag_gives_304_until_the_data_changes(api_a, lesson):
    path = f"/api/v1/sessions/{lesson.uuid}/summary/"
    first = api_a.get(path)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and first.headers["Cache-Control"] == "private, no-cache"

    unchanged = api_a.get(path, HTTP_IF_NONE_MATCH=etag)
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["ETag"] == etag
    assert api_a.get(path, HTTP_IF_NONE_MATCH='"stale", W/' + etag).status_code == 304

    record_lesson(
        lesson,
        [lesson.classroom.students.first()],
        start=lesson.started_at.replace(second=0, microsecond=0) + timedelta(minutes=10),
        minutes=1,
    )
    changed = api_a.get(path, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.json()["overall"]["minutes"] == 4


def test_summary_reads_roll_ups_not_raw_samples(api_a, lesson, django_assert_max_num_queries):
    api_a.get("/api/v1/me/")
    with django_assert_max_num_queries(9):
        api_a.get(f"/api/v1/sessions/{lesson.uuid}/summary/")


def test_presence_only_school_summary_has_no_emotion_keys(api_a, cast):
    with scopes_disabled():
        cast.school_a.presence_only = True
        cast.school_a.save()
    record_lesson(cast.a_ended, [cast.sam], minutes=1)
    summary = api_a.get(f"/api/v1/sessions/{cast.a_ended.uuid}/summary/").json()
    assert summary["presence_only"] is True
    assert "distribution" not in summary["overall"] and "mood" not in summary["timeline"][0]


def test_student_history_lists_sessions_and_the_series_of_one(api_a, lesson, cast):
    history = api_a.get(f"/api/v1/students/{cast.sam.uuid}/history/").json()
    assert [s["uuid"] for s in history["sessions"]] == [str(lesson.uuid)]
    assert history["totals"]["sessions_attended"] == 1
    series = api_a.get(f"/api/v1/students/{cast.sam.uuid}/sessions/{lesson.uuid}/series/").json()
    assert len(series["minutes"]) == 3
    assert series["minutes"][0]["samples"] == 60
    bad = api_a.get(f"/api/v1/students/{cast.sam.uuid}/history/?date_from=soon")
    assert bad.status_code == 400 and "date_from" in bad.json()["error"]["fields"]


def test_a_student_reads_their_own_history_but_not_a_classmates(lesson, cast):
    sam = client_for_user(cast.sam)
    assert sam.get(f"/api/v1/students/{cast.sam.uuid}/history/").status_code == 200
    assert sam.get(f"/api/v1/students/{cast.nora.uuid}/history/").status_code == 403


def test_a_students_series_of_a_session_of_a_class_they_are_not_in_is_the_same_404_as_an_unknown_one(
    lesson, cast
):
    import uuid

    from classes.models import Classroom

    with scopes_disabled():
        chemistry = Classroom.objects.create(school=cast.school_a, name="Chemistry 3C", teacher=cast.tess)
        other = LiveSession.objects.create(
            classroom=chemistry, title="Titration secrets", scheduled_start=timezone.now()
        )
    sam = client_for_user(cast.sam)
    base = f"/api/v1/students/{cast.sam.uuid}/sessions"
    not_in_class = sam.get(f"{base}/{other.uuid}/series/")
    unknown = sam.get(f"{base}/{uuid.uuid4()}/series/")
    assert not_in_class.status_code == unknown.status_code == 404
    assert not_in_class.json() == unknown.json()
    assert sam.get(f"{base}/{lesson.uuid}/series/").status_code == 200


def test_samples_export_walks_every_sample_once_with_the_cursor(api_a, lesson, cast):
    record_lesson(cast.b_live, [cast.bea], minutes=1)  # school B's samples never appear
    with scopes_disabled():
        expected = EmotionSample.objects.filter(session__classroom__school=cast.school_a).count()
    seen, url, pages = [], f"/api/v1/samples/?page_size=100&session={lesson.uuid}", 0
    while url:
        page = api_a.get(url).json()
        seen += page["results"]
        url, pages = page["next"], pages + 1
    assert pages == 4 and len(seen) == expected == 360
    assert len({(s["student"], s["captured_at"]) for s in seen}) == 360
    assert [s["captured_at"] for s in seen] == sorted(s["captured_at"] for s in seen)
    first_face = next(s for s in seen if s["face_count"])
    assert abs(sum(first_face["probabilities"].values()) - 1) < 1e-6
    no_face = next(s for s in seen if not s["face_count"])
    assert no_face["probabilities"] is None and no_face["emotion"] == ""


def test_samples_export_filters_by_student_and_time(api_a, lesson, cast):
    since = (
        (lesson.started_at.replace(second=0, microsecond=0) + timedelta(minutes=1))
        .isoformat()
        .replace("+00:00", "Z")
    )
    page = api_a.get(f"/api/v1/samples/?student={cast.sam.uuid}&since={since}&page_size=1000").json()
    assert len(page["results"]) == 120
    assert {s["student"] for s in page["results"]} == {str(cast.sam.uuid)}


def test_teacher_without_the_class_exports_nothing(lesson, cast):
    assert client_for_user(cast.tess).get("/api/v1/samples/").json()["results"] == []
    sam_rows = client_for_user(cast.sam).get("/api/v1/samples/?page_size=1000").json()["results"]
    assert {s["student"] for s in sam_rows} == {str(cast.sam.uuid)}


def test_time_filters_accept_any_utc_offset_and_refuse_out_of_range_times(api_a, cast):
    # PostgreSQL refuses offsets beyond ±15:59 in a literal; the filter compares in UTC instead.
    far_offset = api_a.get("/api/v1/sessions/?scheduled_after=2000-01-01T00:00:00%2B20:08")
    assert far_offset.status_code == 200
    assert far_offset.json()["count"] == 3
    overflow = api_a.get("/api/v1/sessions/?scheduled_before=0001-01-01T00:00:00%2B05:00")
    assert overflow.status_code == 400
    assert overflow.json()["error"]["fields"]["scheduled_before"]
