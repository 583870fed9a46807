"""A video call's participant in the class view (analytics.live.aggregation.ParticipantState): the same alert rules
as a streaming student, its alerts naming the participant (and the student once assigned), and a public state that
marks it as a participant. Stored participant alerts keep the participant. Fake clock, no sockets."""

import pytest

from analytics.live.aggregation import ClassView, ParticipantState, participant_key

from .test_aggregator import HAPPY, SAD, SETTINGS, feed


def participant(pk=12, number=7, assigned=None):
    return ParticipantState(
        participant_key(pk), f"Participant {number}", started_at=0, participant_id=pk, number=number,
        uuid="u-12", assigned_id=assigned,
    )  # fmt: skip


def test_a_participant_without_a_face_raises_a_no_face_alert_naming_the_participant():
    state = participant()
    feed(state, 0, 5)
    alerts = feed(state, 5, 40, face_count=0)
    assert [a.kind for a in alerts] == ["no_face"]
    assert alerts[0].participant_id == 12 and alerts[0].student_id is None
    assert alerts[0].message.startswith("Participant 7: no face visible")
    assert alerts[0].as_dict()["participant_id"] == 12


def test_an_assigned_participants_negative_alert_names_the_student_too():
    state = participant(assigned=5)
    state.name = "Sam Alpha"
    alerts = feed(state, 0, 70, emotion="sad", probabilities=SAD)
    assert [(a.kind, a.student_id, a.participant_id) for a in alerts] == [("negative", 5, 12)]
    assert "Sam Alpha" in alerts[0].message


def test_public_state_is_a_participant_card_and_a_proposal_shows_only_until_assigned():
    state = participant()
    state.observe(1, 1, "happy", 0.9, HAPPY)
    state.proposal = {"student": "u-sam", "name": "Sam Alpha"}
    public = state.public(1.5, SETTINGS)
    assert public["id"] == "p12" and public["kind"] == "participant" and public["number"] == 7
    assert public["participant"] == "u-12" and public["emotion"] == "happy" and public["streaming"]
    assert public["proposal"] == {"student": "u-sam", "name": "Sam Alpha"}
    state.assigned_id = 5
    assert "proposal" not in state.public(1.5, SETTINGS) and state.public(1.5, SETTINGS)["student_id"] == 5


def test_the_class_view_counts_participants_and_students_alike():
    view = ClassView(SETTINGS)
    student = {"id": 1, "name": "Sam", "connected": True, "streaming": True, "faces": 1, "valence": 1.0}
    state = participant()
    state.observe(1, 1, "sad", 0.9, SAD)
    view.merge("origin", [student, state.public(1.5, SETTINGS)], 1.5)
    assert view.counts() == {"joined": 2, "streaming": 2, "faces": 2}
    assert view.index() == pytest.approx((1.0 + state.valence) / 2, abs=1e-3)


@pytest.mark.django_db
def test_a_stored_participant_alert_keeps_the_participant(cast):
    from django_scopes import scopes_disabled

    from analytics.live import store
    from analytics.live.aggregation import AlertEvent
    from analytics.models import Alert
    from analytics.services import ensure_participants

    with scopes_disabled():
        (row,) = ensure_participants(
            cast.a_live.pk, [7], source="live_call", seen_at=cast.a_live.started_at
        ).values()
    stored = store.store_alert(
        cast.a_live.pk, cast.school_a.pk, AlertEvent("no_face", "Participant 7: no face", 1e9, None, row.pk)
    )
    assert stored["participant_id"] == row.pk and stored["student_id"] is None
    with scopes_disabled():
        assert Alert.objects.get(pk=stored["id"]).participant == row
