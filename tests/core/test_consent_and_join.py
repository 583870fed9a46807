"""Consent is recorded per policy version, and only enrolled, consenting students of a live session may stream."""

import pytest
from django_scopes import scopes_disabled

from classes import services
from classes.services import JoinRefused, check_can_stream


def test_consent_is_recorded_against_the_current_policy_version(cast):
    with scopes_disabled():
        decision = services.record_consent(cast.nora, granted=True)
        assert decision.policy == services.current_policy(cast.school_a)
        assert decision.policy.version == 1
        assert services.has_consent(cast.nora)


def test_new_policy_version_requires_consent_again(cast):
    with scopes_disabled():
        assert services.has_consent(cast.sam)
        policy = services.publish_policy(cast.school_a, "New words about cameras.", author=cast.alice)
        assert policy.version == 2
        assert not services.has_consent(cast.sam)
        # Other school untouched.
        assert services.has_consent(cast.bea)


def test_withdrawn_consent_counts_over_earlier_agreement(cast):
    with scopes_disabled():
        services.record_consent(cast.sam, granted=False)
        assert not services.has_consent(cast.sam)


def test_teachers_cannot_record_consent(cast):
    with scopes_disabled(), pytest.raises(services.ValidationError):
        services.record_consent(cast.tom, granted=True)


@pytest.mark.parametrize(
    ("who", "session", "code"),
    [
        ("nora", "a_live", "no_consent"),
        ("nina", "a_live", "not_enrolled"),
        ("bea", "a_live", "not_a_student"),
        ("tom", "a_live", "not_a_student"),
        ("sam", "a_scheduled", "not_live"),
        ("sam", "a_ended", "not_live"),
    ],
)
def test_join_is_refused_with_a_stable_reason(cast, who, session, code):
    with scopes_disabled(), pytest.raises(JoinRefused) as refusal:
        check_can_stream(getattr(cast, who), getattr(cast, session))
    assert refusal.value.code == code
    assert refusal.value.message


def test_enrolled_consenting_student_may_stream_into_live_session(cast):
    with scopes_disabled():
        check_can_stream(cast.sam, cast.a_live)
