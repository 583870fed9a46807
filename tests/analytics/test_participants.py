"""Call participants (faces of a video call's gallery): stored anonymously per session, counted in the class figures
and reports, and stored under a student only once the teacher assigns them to an enrolled student who consented."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from analytics import reports, rollups
from analytics.models import (
    CallParticipant,
    EmotionSample,
    ParticipantMinute,
    ParticipantSource,
    SessionMinute,
    StudentMinute,
    StudentSession,
)
from analytics.services import (
    AssignmentRefused,
    SampleRecord,
    assign_participant,
    ensure_participants,
    participant_number_offset,
    record_samples,
)
from classes import services as class_services

from .conftest import HAPPY, NEUTRAL, SAD, records


def participant_records(session, participant, start, seconds, probabilities=NEUTRAL, face_count=1, step=5):
    return [
        SampleRecord(
            session_id=session.pk,
            student_id=None,
            captured_at=start + timedelta(seconds=s),
            face_count=face_count,
            probabilities=probabilities if face_count else None,
            participant_id=participant.pk,
        )
        for s in range(0, seconds, step)
    ]


@pytest.fixture
def call(cast):
    """class A's ended session: sam on his own camera (happy) for 3 minutes, and two call participants seen in
    the teacher's gallery over the same minutes (participant 1 sad, participant 2 neutral, then gone)."""
    session = cast.a_ended
    start = session.started_at.replace(second=0, microsecond=0)
    with scopes_disabled():
        one, two = ensure_participants(
            session.pk, [1, 2], source=ParticipantSource.LIVE_CALL, seen_at=start
        ).values()
        record_samples(records(session, cast.sam, start, 180, HAPPY, step=5))
        record_samples(participant_records(session, one, start, 180, SAD))
        record_samples(participant_records(session, two, start, 60, NEUTRAL))
        record_samples(participant_records(session, two, start + timedelta(seconds=60), 120, face_count=0))
    return session, one, two, start


def summary_of(session):
    with scopes_disabled():
        return reports.session_summary(session)


def assign(participant, student, by=None):
    with scopes_disabled():
        return assign_participant(participant, student, by=by)


# --- storage --------------------------------------------------------------------------------------------------


def test_a_sample_names_a_student_or_a_participant_never_both_nor_neither(cast):
    from django.utils import timezone

    with pytest.raises(ValueError):
        SampleRecord(cast.a_live.pk, cast.sam.pk, timezone.now(), 1, participant_id=1)
    with pytest.raises(ValueError):
        SampleRecord(cast.a_live.pk, None, timezone.now(), 1)


def test_participants_are_created_once_with_numbers_unique_per_session(cast):
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    now = timezone.now()
    with scopes_disabled():
        first = ensure_participants(cast.a_live.pk, [1, 2], source="live_call", seen_at=now)
        again = ensure_participants(cast.a_live.pk, [2, 3], source="live_call", seen_at=now)
        assert first[2].pk == again[2].pk and again[3].number == 3
        assert participant_number_offset(cast.a_live.pk) == 3
        assert participant_number_offset(cast.a_ended.pk) == 0
        assert str(again[3]) == "Participant 3" and again[3].student is None
        with pytest.raises(IntegrityError), transaction.atomic():
            CallParticipant.objects.create(
                session=cast.a_live, number=1, source="live_call", first_seen_at=now
            )
        with pytest.raises(IntegrityError), transaction.atomic():
            CallParticipant.objects.create(
                session=cast.a_live, number=0, source="live_call", first_seen_at=now
            )
        with pytest.raises(ValueError):
            ensure_participants(cast.a_live.pk, [1], source="webcam", seen_at=now)


def test_a_participant_of_another_session_is_refused_and_nothing_is_stored(call, cast):
    session, one, _, start = call
    with scopes_disabled():
        before = EmotionSample.objects.count()
        stray = participant_records(cast.a_live, one, start, 10)
        with pytest.raises(ValueError):
            record_samples(stray)
        assert EmotionSample.objects.count() == before


def test_anonymous_participants_count_in_class_minutes_but_not_as_students(call, cast):
    session, one, two, start = call
    with scopes_disabled():
        assert EmotionSample.objects.filter(participant=one, student__isnull=True).count() == 36
        assert set(StudentSession.objects.filter(session=session).values_list("student_id", flat=True)) == {
            cast.sam.pk
        }
        assert ParticipantMinute.objects.filter(participant=one).count() == 3
        assert ParticipantMinute.objects.filter(participant=two, present=True).count() == 1
        first = SessionMinute.objects.get(session=session, minute=start)
        last = SessionMinute.objects.get(session=session, minute=start + timedelta(minutes=2))
    assert (first.students_streaming, first.participants_streaming, first.participants_present) == (1, 2, 2)
    assert (last.participants_streaming, last.participants_present) == (2, 1)  # two: no face after a minute
    assert first.samples == 12 * 3 and first.n_happy == 12 and first.n_sad == 12 and first.n_neutral == 12


def test_incremental_rollups_equal_a_rebuild_from_raw_samples(call):
    session, *_ = call

    def snapshot():
        rows = {}
        for model, key in (
            (StudentMinute, ("student_id", "minute")),
            (ParticipantMinute, ("participant_id", "minute")),
            (SessionMinute, ("minute",)),
            (StudentSession, ("student_id",)),
        ):
            for row in model.objects.filter(session=session):
                values = {f: getattr(row, f) for f in rollups.COUNTER_FIELDS}
                for extra in (
                    "students_streaming",
                    "participants_streaming",
                    "participants_present",
                    "present",
                ):
                    if hasattr(row, extra):
                        values[extra] = getattr(row, extra)
                rows[(model.__name__, *(getattr(row, k) for k in key))] = values
        return rows

    with scopes_disabled():
        incremental = snapshot()
        result = rollups.rebuild_session(session.pk)
        assert result.participant_minutes == 6
        assert snapshot() == incremental


# --- reports --------------------------------------------------------------------------------------------------


def test_session_report_counts_anonymous_participants_in_class_figures_only(call, cast):
    session, one, two, start = call
    summary = summary_of(session)
    overall = summary["overall"]
    assert overall["students_seen"] == 1 and overall["participants_seen"] == 2
    assert overall["samples"] == 36 + 36 + 36
    assert overall["presence_share"] == pytest.approx((36 + 36 + 12) / 108)
    first = summary["timeline"][0]
    assert first["participants_streaming"] == 2 and first["presence_share"] == 1.0
    assert summary["timeline"][2]["presence_share"] == pytest.approx(2 / 3)
    assert first["shares"]["sad"] == pytest.approx(1 / 3)
    assert [s["name"] for s in summary["students"] if s["minutes_seen"]] == ["Sam Alpha"]
    by_number = {p["number"]: p for p in summary["participants"]}
    assert by_number[1]["name"] == "Participant 1" and by_number[1]["dominant"] == "sad"
    assert by_number[2]["minutes_seen"] == 3 and by_number[2]["minutes_present"] == 1
    assert by_number[1]["uuid"] == str(one.uuid) and by_number[1]["source"] == "live_call"


def test_presence_only_reports_of_participants_carry_no_emotion(call, cast):
    session, *_ = call
    with scopes_disabled():
        cast.school_a.presence_only = True
        cast.school_a.save()
    summary = summary_of(session)
    assert all("dominant" not in p and "distribution" not in p for p in summary["participants"])
    assert "shares" not in summary["timeline"][0]


def test_session_report_page_lists_participants_with_an_assign_control(call, cast, client_for):
    session, one, _, _ = call
    page = client_for(cast.tom).get(reverse("session_report", args=[session.uuid])).content.decode()
    assert 'id="participants"' in page and "Participant 1" in page and "Participant 2" in page
    assert reverse("assign_participant", args=[session.uuid, one.uuid]) in page
    assert "rows=participants" in page
    assert "Nora Alpha (no consent)" in page  # the choice says why it will be refused


def test_timeline_and_participants_csv_exports_include_the_call(call, cast, client_for):
    session, *_ = call
    client = client_for(cast.tom)
    url = reverse("session_report_csv", args=[session.uuid])

    def rows(kind):
        response = client.get(url, {"rows": kind})
        return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    timeline = rows("timeline")
    assert timeline[0]["participants_streaming"] == "2" and timeline[0]["students_streaming"] == "1"
    participants = rows("participants")
    assert [p["participant"] for p in participants] == ["Participant 1", "Participant 2"]
    assert participants[0]["dominant"] == "sad"
    students = rows("students")
    assert {s["student"] for s in students} == {
        "Sam Alpha",
        "Nora Alpha",
    }  # the enrolled class, no participants


def test_school_report_and_csv_count_participants_in_the_sessions_class_figures(call, cast, client_for):
    session, *_ = call
    report = json.loads(client_for(cast.alice).get(reverse("school_report_data")).content)
    (item,) = [s for s in report["sessions"] if s["uuid"] == str(session.uuid)]
    assert item["students_attended"] == 1 and item["participants_seen"] == 2
    assert item["presence_share"] == pytest.approx(84 / 108)
    response = client_for(cast.alice).get(reverse("school_report_csv"))
    (row,) = [
        r
        for r in csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
        if r["session_uuid"] == str(session.uuid)
    ]
    assert row["students_attended"] == "1" and row["participants_seen"] == "2"


# --- assignment -----------------------------------------------------------------------------------------------


def test_assigning_moves_the_whole_session_to_the_consenting_student(call, cast):
    session, one, two, start = call
    participant = assign(one, cast.sam, by=cast.tom)
    assert participant.student == cast.sam and participant.assigned_by == cast.tom and participant.assigned_at
    with scopes_disabled():
        # Earlier samples too: the whole session of this participant is now sam's, beside his own camera's.
        assert EmotionSample.objects.filter(participant=one, student=cast.sam).count() == 36
        assert EmotionSample.objects.filter(student=cast.sam, participant__isnull=True).count() == 36
        assert not ParticipantMinute.objects.filter(participant=one).exists()
        total = StudentSession.objects.get(session=session, student=cast.sam)
        assert total.samples == 72 and total.n_sad == 36 and total.n_happy == 36
        first = SessionMinute.objects.get(session=session, minute=start)
        assert (first.students_streaming, first.participants_streaming, first.samples) == (1, 1, 36)
    summary = summary_of(session)
    assert [p["number"] for p in summary["participants"]] == [2]
    assert summary["overall"]["participants_seen"] == 1


def test_samples_written_after_the_assignment_are_the_students(call, cast):
    session, one, _, start = call
    assign(one, cast.sam)
    later = start + timedelta(minutes=3)
    with scopes_disabled():
        record_samples(participant_records(session, one, later, 30, SAD))
        assert EmotionSample.objects.filter(participant=one, student__isnull=True).count() == 0
        assert StudentMinute.objects.get(session=session, student=cast.sam, minute=later).n_sad == 6


def test_a_new_policy_version_asks_for_consent_again_before_an_assignment(call, cast):
    session, one, _, _ = call
    with scopes_disabled():
        class_services.publish_policy(cast.school_a, "New words.\n")
        with pytest.raises(AssignmentRefused) as refused:
            assign_participant(one, cast.sam, by=cast.tom)
    assert refused.value.code == "no_consent" and "version 2" in refused.value.message


@pytest.mark.parametrize(
    ("who", "code", "words"),
    [
        ("nora", "no_consent", "has not consented"),
        ("nina", "not_enrolled", "not enrolled"),
        ("tom", "not_a_student", "not a student"),
        ("bea", "not_a_student", "not a student"),
    ],
)
def test_assignment_is_refused_with_the_reason_and_changes_nothing(call, cast, who, code, words):
    session, one, _, _ = call
    with scopes_disabled():
        before = list(EmotionSample.objects.filter(participant=one).values_list("student_id", flat=True))
        with pytest.raises(AssignmentRefused) as refused:
            assign_participant(one, getattr(cast, who), by=cast.tom)
        one.refresh_from_db()
        assert one.student is None
        assert (
            list(EmotionSample.objects.filter(participant=one).values_list("student_id", flat=True)) == before
        )
        assert ParticipantMinute.objects.filter(participant=one).count() == 3
    assert refused.value.code == code and words in refused.value.message


def test_a_student_who_refused_consent_cannot_be_assigned(call, cast):
    session, one, _, _ = call
    with scopes_disabled():
        class_services.record_consent(cast.sam, granted=False)
        with pytest.raises(AssignmentRefused) as refused:
            assign_participant(one, cast.sam, by=cast.tom)
    assert refused.value.code == "no_consent" and "did not agree" in refused.value.message


def test_unassigning_makes_the_samples_anonymous_again_and_keeps_the_students_own(call, cast):
    session, one, _, start = call
    assign(one, cast.sam)
    assign(one, None)
    with scopes_disabled():
        one.refresh_from_db()
        assert one.student is None and one.assigned_at is None
        assert EmotionSample.objects.filter(participant=one, student__isnull=True).count() == 36
        assert StudentSession.objects.get(session=session, student=cast.sam).samples == 36
        assert ParticipantMinute.objects.filter(participant=one).count() == 3
    assert summary_of(session)["overall"]["participants_seen"] == 2


def test_reassigning_moves_the_participant_from_one_student_to_another(call, cast):
    session, one, _, _ = call
    with scopes_disabled():
        class_services.record_consent(cast.nora, granted=True)
    assign(one, cast.sam)
    assign(one, cast.nora)
    with scopes_disabled():
        assert StudentSession.objects.get(session=session, student=cast.sam).samples == 36  # his own camera
        assert StudentSession.objects.get(session=session, student=cast.nora).n_sad == 36


def test_a_student_with_only_a_participant_appears_in_their_history_once_assigned(call, cast):
    session, one, _, _ = call
    with scopes_disabled():
        class_services.record_consent(cast.nora, granted=True)
        assert reports.student_history(cast.nora)["sessions"] == []
    assign(one, cast.nora)
    with scopes_disabled():
        history = reports.student_history(cast.nora)
    assert [s["uuid"] for s in history["sessions"]] == [str(session.uuid)]
    assert history["sessions"][0]["dominant"] == "sad"


def test_raw_results_past_retention_can_no_longer_be_assigned(call, cast):
    session, one, _, _ = call
    with scopes_disabled():
        cast.school_a.retention_days = 1
        cast.school_a.save()
        first = ParticipantMinute.objects.filter(participant=one).order_by("minute").first()
        first.minute -= timedelta(days=3)  # as if the lesson had been three days ago
        first.save()
        with pytest.raises(AssignmentRefused) as refused:
            assign_participant(one, cast.sam, by=cast.tom)
    assert refused.value.code == "expired"


def test_retention_deletes_participant_minutes_then_the_participant(cast):
    from django.utils import timezone

    from analytics.retention import prune_school
    from classes.tenancy import school_scope

    old = (timezone.now() - timedelta(days=800)).replace(second=0, microsecond=0)
    with scopes_disabled():
        (participant,) = ensure_participants(cast.a_ended.pk, [1], source="recording", seen_at=old).values()
        record_samples(participant_records(cast.a_ended, participant, old, 60))
    with school_scope(cast.school_a):
        report = prune_school(cast.school_a)
        assert report.removed["participant minutes"] == 1 and report.removed["raw samples"] == 12
        assert not CallParticipant.objects.filter(pk=participant.pk).exists()
    assert report.removed["call participants"] == 1


# --- the assignment endpoint ----------------------------------------------------------------------------------


def _post_json(client, url, student):
    return client.post(url, json.dumps({"student": student}), content_type="application/json")


@pytest.mark.parametrize("who", ["tom", "alice", "op"])
def test_the_class_teacher_admins_and_operators_assign_over_json(call, cast, client_for, who):
    session, one, _, _ = call
    url = reverse("assign_participant", args=[session.uuid, one.uuid])
    response = _post_json(client_for(getattr(cast, who)), url, str(cast.sam.uuid))
    assert response.status_code == 200, response.content
    assert response.json()["participant"] == {
        "uuid": str(one.uuid),
        "number": 1,
        "name": "Sam Alpha",
        "student": {"uuid": str(cast.sam.uuid), "name": "Sam Alpha"},
    }
    undone = _post_json(client_for(getattr(cast, who)), url, None)
    assert undone.status_code == 200 and undone.json()["participant"]["name"] == "Participant 1"


@pytest.mark.parametrize(("who", "status"), [("tess", 403), ("sam", 403), ("bill", 404), ("bob", 404)])
def test_others_may_not_assign_participants(call, cast, client_for, who, status):
    session, one, _, _ = call
    url = reverse("assign_participant", args=[session.uuid, one.uuid])
    assert _post_json(client_for(getattr(cast, who)), url, str(cast.sam.uuid)).status_code == status
    with scopes_disabled():
        one.refresh_from_db()
    assert one.student is None


def test_anonymous_users_are_sent_to_log_in_and_get_is_not_allowed(call, cast, client_for):
    session, one, _, _ = call
    url = reverse("assign_participant", args=[session.uuid, one.uuid])
    assert client_for(None).post(url, {"student": str(cast.sam.uuid)}).status_code == 302
    assert client_for(cast.tom).get(url).status_code == 405


def test_refused_assignment_answers_409_with_the_reason(call, cast, client_for):
    session, one, _, _ = call
    url = reverse("assign_participant", args=[session.uuid, one.uuid])
    response = _post_json(client_for(cast.tom), url, str(cast.nora.uuid))
    assert response.status_code == 409
    assert (
        response.json()["code"] == "no_consent"
        and "Nora Alpha has not consented" in response.json()["message"]
    )


def test_a_student_or_participant_of_another_school_or_session_is_not_found(call, cast, client_for):
    session, one, _, _ = call
    client = client_for(cast.tom)
    url = reverse("assign_participant", args=[session.uuid, one.uuid])
    assert _post_json(client, url, str(cast.bea.uuid)).status_code == 404
    assert _post_json(client, url, "not-a-uuid").status_code == 404
    other = reverse("assign_participant", args=[cast.a_live.uuid, one.uuid])
    assert _post_json(client, other, str(cast.sam.uuid)).status_code == 404


def test_a_malformed_json_body_is_a_400(call, cast, client_for):
    session, one, _, _ = call
    url = reverse("assign_participant", args=[session.uuid, one.uuid])
    client = client_for(cast.tom)
    for body in ("{", "[]", '{"student": 5}', "{}"):
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 400 and response.json()["code"] == "bad_request", body


def test_form_posts_redirect_to_the_report_with_the_outcome(call, cast, client_for):
    session, one, _, _ = call
    client = client_for(cast.tom)
    url = reverse("assign_participant", args=[session.uuid, one.uuid])
    refused = client.post(url, {"student": str(cast.nora.uuid)}, follow=True)
    assert "has not consented" in refused.content.decode()
    done = client.post(url, {"student": str(cast.sam.uuid)}, follow=True)
    assert "Participant 1 is now stored as Sam Alpha" in done.content.decode()
    assert done.redirect_chain[-1][0].endswith(
        reverse("session_report", args=[session.uuid]) + "#participants"
    )
