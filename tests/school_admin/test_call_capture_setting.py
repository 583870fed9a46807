"""Reading lessons' video calls is a school setting, off by default; turning it on adds its own paragraph to the
camera policy as a new version, so students are asked to consent again."""

from django.urls import reverse
from django_scopes import scopes_disabled

from classes import services
from classes.models import CALL_CAPTURE_POLICY_MARK, ConsentPolicy, School

SETTINGS = {"retention_days": "180", "aggregate_retention_days": "730"}


def _school(pk):
    with scopes_disabled():
        return School.objects.get(pk=pk)


def _policies(school):
    with scopes_disabled():
        return list(ConsentPolicy.objects.filter(school=school).order_by("version"))


def test_call_capture_is_off_by_default_and_explained_on_the_settings_page(cast, client_for):
    assert School.objects.create(name="New", slug="new").call_capture is False
    assert cast.school_a.call_capture is False
    body = client_for(cast.alice).get(reverse("school_admin_settings")).content.decode()
    assert 'id="call-capture"' in body and 'name="call_capture"' in body
    assert "Off by default" in body and "consent again" in body


def test_turning_it_on_publishes_a_policy_version_with_its_paragraph(cast, client_for):
    before = _policies(cast.school_a)
    response = client_for(cast.alice).post(
        reverse("school_admin_settings"), {**SETTINGS, "call_capture": "on"}, follow=True
    )
    assert _school(cast.school_a.pk).call_capture is True
    policies = _policies(cast.school_a)
    assert len(policies) == len(before) + 1
    newest = policies[-1]
    assert str(CALL_CAPTURE_POLICY_MARK) in newest.text and newest.created_by == cast.alice
    assert newest.text.startswith(before[-1].text.rstrip("\n"))  # the old words stay, the paragraph is added
    assert f"Version {newest.version} of the camera policy" in response.content.decode()
    with scopes_disabled():
        assert not services.has_consent(cast.sam)  # he agreed to the words without the paragraph


def test_turning_it_off_keeps_the_policy_and_on_again_publishes_nothing_new(cast, client_for):
    client = client_for(cast.alice)
    client.post(reverse("school_admin_settings"), {**SETTINGS, "call_capture": "on"})
    versions = len(_policies(cast.school_a))
    off = client.post(reverse("school_admin_settings"), SETTINGS, follow=True)
    assert _school(cast.school_a.pk).call_capture is False
    assert "still describes it" in off.content.decode()
    client.post(reverse("school_admin_settings"), {**SETTINGS, "call_capture": "on"})
    assert _school(cast.school_a.pk).call_capture is True
    assert len(_policies(cast.school_a)) == versions


def test_saving_other_settings_does_not_touch_call_capture_or_the_policy(cast, client_for):
    versions = len(_policies(cast.school_a))
    client_for(cast.alice).post(reverse("school_admin_settings"), {**SETTINGS, "presence_only": "on"})
    school = _school(cast.school_a.pk)
    assert school.presence_only is True and school.call_capture is False
    assert len(_policies(cast.school_a)) == versions


def test_teachers_and_other_schools_admins_cannot_turn_it_on(cast, client_for):
    assert (
        client_for(cast.tom)
        .post(reverse("school_admin_settings"), {**SETTINGS, "call_capture": "on"})
        .status_code
        == 403
    )
    client_for(cast.bob).post(reverse("school_admin_settings"), {**SETTINGS, "call_capture": "on"})
    assert _school(cast.school_a.pk).call_capture is False
    assert _school(cast.school_b.pk).call_capture is True  # bob's own school


def test_students_read_the_paragraph_and_a_note_on_their_consent_page(cast, client_for):
    client_for(cast.alice).post(reverse("school_admin_settings"), {**SETTINGS, "call_capture": "on"})
    page = client_for(cast.sam).get(reverse("consent")).content.decode()
    assert "Reading the video call:" in page and 'id="call-capture-note"' in page
    assert 'data-decision="none"' in page  # asked again
    other = client_for(cast.bea).get(reverse("consent")).content.decode()
    assert "Reading the video call:" not in other and 'id="call-capture-note"' not in other
