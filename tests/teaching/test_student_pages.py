"""What students see: live lessons to join, what comes next, and their consent decisions."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from classes import services
from classes.models import Classroom, Consent, LiveSession, SessionStatus


def test_student_home_shows_live_session_with_join_and_upcoming(cast, client_for):
    page = client_for(cast.sam).get(reverse("student_home")).content.decode()
    assert reverse("live_join", args=[cast.a_live.uuid]) in page and ">Join</a>" in page
    assert "Waves" in page and "Physics 1A" in page
    assert "Mechanics" not in page  # ended sessions are not "coming up"
    assert "Cells" not in page  # other school
    assert reverse("my_data") in page
    assert 'id="consent-banner"' not in page


def test_student_without_classes_sees_nothing_to_join(cast, client_for):
    page = client_for(cast.nina).get(reverse("student_home")).content.decode()
    assert "not enrolled in any class" in page and "live_join" not in page and ">Join</a>" not in page


def test_undecided_and_refusing_students_see_a_consent_banner(cast, client_for):
    page = client_for(cast.nora).get(reverse("student_home")).content.decode()
    assert 'id="consent-banner"' in page and "have not decided" in page and reverse("consent") in page
    with scopes_disabled():
        services.record_consent(cast.sam, granted=False)
    page = client_for(cast.sam).get(reverse("student_home")).content.decode()
    assert 'id="consent-banner"' in page and "did not agree" in page


def test_live_lesson_offers_the_policy_not_a_dead_end_join_to_students_without_consent(cast, client_for):
    with scopes_disabled():
        services.record_consent(cast.sam, granted=False)
    page = client_for(cast.sam).get(reverse("student_home")).content.decode()
    join = reverse("live_join", args=[cast.a_live.uuid])
    assert ">Join</a>" not in page and 'class="join-button"' not in page
    assert f"{reverse('consent')}?next={join}" in page
    assert "Review the camera policy to join" in page


def test_consent_page_shows_policy_decision_and_history(cast, client_for):
    page = client_for(cast.sam).get(reverse("consent")).content.decode()
    assert "Pictures and video are never stored anywhere" in page
    assert 'data-decision="granted"' in page and "version 1" in page
    assert "I agree" in page and "I do not agree" in page


def test_consent_flow_nora_is_refused_agrees_then_is_admitted(cast, client_for):
    client = client_for(cast.nora)
    join = reverse("live_join", args=[cast.a_live.uuid])
    refused = client.get(join)
    assert refused.status_code == 403 and 'data-refusal="no_consent"' in refused.content.decode()

    page = client.get(reverse("consent"), {"next": join}).content.decode()
    assert 'data-decision="none"' in page
    agreed = client.post(reverse("consent"), {"decision": "agree", "next": join})
    assert agreed["Location"] == join  # back to the lesson she was trying to join
    assert client.get(join).status_code == 200

    # Withdrawing is always possible and takes effect at once.
    withdrawn = client.post(reverse("consent"), {"decision": "refuse"}, follow=True)
    assert 'data-decision="refused"' in withdrawn.content.decode()
    assert client.get(join).status_code == 403
    with scopes_disabled():
        assert list(Consent.objects.filter(student=cast.nora).values_list("granted", flat=True)) == [
            False,
            True,
        ]
    history = withdrawn.content.decode().split("Your decisions")[1]
    assert history.count("<tr>") == 3  # header + two decisions
    assert "Did not agree" in history and "Agreed" in history


def test_new_policy_version_asks_again_and_history_keeps_old_versions(cast, client_for):
    with scopes_disabled():
        services.publish_policy(cast.school_a, "Version two of the words.", author=cast.alice)
    page = client_for(cast.sam).get(reverse("consent")).content.decode()
    assert "Version two of the words." in page and 'data-decision="none"' in page
    assert "v1 <small" in page and "(earlier)" in page


def test_consent_ignores_offsite_next_and_unknown_decisions(cast, client_for):
    client = client_for(cast.nora)
    response = client.post(reverse("consent"), {"decision": "agree", "next": "https://evil.example/"})
    assert response["Location"] == reverse("consent")
    bad = client.post(reverse("consent"), {"decision": "maybe"})
    assert bad.status_code == 400 and "Choose" in bad.content.decode()
    with scopes_disabled():
        assert Consent.objects.filter(student=cast.nora).count() == 1


@pytest.mark.parametrize("classes", [1, 4])
def test_student_home_query_count_does_not_grow_with_classes(
    cast, client_for, django_assert_num_queries, classes
):
    with scopes_disabled():
        for n in range(classes - 1):
            extra = Classroom.objects.create(school=cast.school_a, name=f"Extra {n}", teacher=cast.tess)
            services.enrol_students(extra, [cast.sam])
            LiveSession.objects.create(
                classroom=extra,
                title=f"Live {n}",
                scheduled_start=timezone.now(),
                status=SessionStatus.LIVE,
                started_at=timezone.now(),
            )
            LiveSession.objects.create(
                classroom=extra, title=f"Later {n}", scheduled_start=timezone.now() + timedelta(days=1)
            )
    client = client_for(cast.sam)
    with django_assert_num_queries(7):
        response = client.get(reverse("student_home"))
    assert response.content.decode().count('class="join-button"') == classes
