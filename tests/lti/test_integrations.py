"""The school admin's LTI settings: registrations with the values to paste into Moodle and Canvas, Canvas's JSON
configuration, the signing keys (encrypted at rest, never shown, rotatable), and the role mapping."""

import json

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from analytics.lms.lti import keys
from analytics.lms.lti.claims import fermonitor_role
from analytics.lms.models import LtiKey, LtiRegistration
from classes.models import Role

V = "http://purl.imsglobal.org/vocab/lis/v2/"


def test_admin_adds_a_moodle_registration_and_gets_the_values_to_paste(cast, client_for):
    alice = client_for(cast.alice)
    response = alice.post(
        reverse("lti_registration_create"),
        {
            "name": "Moodle",
            "kind": "moodle",
            "issuer": "https://moodle.alpha.example.org/",
            "deployment_ids": "",
        },
        follow=True,
    )
    with scopes_disabled():
        registration = LtiRegistration.objects.get(name="Moodle")
    assert (registration.school, registration.created_by) == (cast.school_a, cast.alice)
    # Moodle's endpoints follow from its address.
    assert registration.issuer == "https://moodle.alpha.example.org"
    assert registration.auth_login_url == "https://moodle.alpha.example.org/mod/lti/auth.php"
    assert registration.auth_token_url == "https://moodle.alpha.example.org/mod/lti/token.php"
    assert registration.jwks_url == "https://moodle.alpha.example.org/mod/lti/certs.php"
    page = response.content.decode()
    base = f"http://testserver/lti/{registration.uuid}"
    for key, value in (
        ("launch", f"{base}/launch/"),
        ("login", f"{base}/login/"),
        ("jwks", f"{base}/jwks.json"),
        ("redirect", f"{base}/launch/"),
        ("deep_link", f"{base}/launch/"),
    ):
        assert f'value="{value}" onclick="this.select()" aria-label' in page and f'data-value="{key}"' in page
    assert "incomplete: client id, deployment ids" in page
    assert 'data-lms="canvas"' not in page

    saved = alice.post(
        reverse("lti_registration", args=[registration.uuid]),
        {
            "name": "Moodle",
            "kind": "moodle",
            "issuer": registration.issuer,
            "client_id": "AbC123",
            "deployment_ids": "4\n7, 4",
            "is_active": "on",
        },
        follow=True,
    )
    registration.refresh_from_db()
    assert (registration.client_id, registration.deployment_ids, registration.is_complete) == (
        "AbC123",
        ["4", "7"],
        True,
    )
    assert "ready" in saved.content.decode()
    listing = alice.get(reverse("api_integrations")).content.decode()
    assert "Moodle" in listing and "Rotate the signing key" in listing


def test_canvas_registration_gets_canvas_cloud_endpoints_and_a_json_configuration(cast, client_for):
    alice = client_for(cast.alice)
    alice.post(reverse("lti_registration_create"), {"name": "Canvas", "kind": "canvas", "deployment_ids": ""})
    with scopes_disabled():
        registration = LtiRegistration.objects.get(name="Canvas")
    assert registration.issuer == "https://canvas.instructure.com"
    assert registration.auth_login_url == "https://sso.canvaslms.com/api/lti/authorize_redirect"
    assert registration.jwks_url == "https://sso.canvaslms.com/api/lti/security/jwks"

    config = client_for(None).get(reverse("lti_canvas_config", args=[registration.uuid])).json()
    base = f"http://testserver/lti/{registration.uuid}"
    assert config["oidc_initiation_url"] == f"{base}/login/"
    assert config["target_link_uri"] == f"{base}/launch/"
    assert config["public_jwk_url"] == f"{base}/jwks.json"
    placements = config["extensions"][0]["settings"]["placements"]
    assert {p["placement"]: p["message_type"] for p in placements} == {
        "course_navigation": "LtiResourceLinkRequest",
        "link_selection": "LtiDeepLinkingRequest",
    }
    assert "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly" in config["scopes"]
    page = alice.get(reverse("lti_registration", args=[registration.uuid])).content.decode()
    assert 'data-lms="canvas"' in page and f"{base}/canvas.json" in page


def test_public_url_setting_is_used_for_the_values_to_paste(cast, client_for, settings):
    settings.FERMONITOR_PUBLIC_URL = "https://fermonitor.alpha.example.org"
    with scopes_disabled():
        registration = LtiRegistration.objects.create(school=cast.school_a, name="LMS")
    page = client_for(cast.alice).get(reverse("lti_registration", args=[registration.uuid])).content.decode()
    assert f"https://fermonitor.alpha.example.org/lti/{registration.uuid}/login/" in page


def test_registration_form_errors_are_shown_and_nothing_is_saved(cast, client_for):
    with scopes_disabled():
        LtiRegistration.objects.create(
            school=cast.school_a, name="One", issuer="https://lms.example.org", client_id="c"
        )
    response = client_for(cast.alice).post(
        reverse("lti_registration_create"),
        {
            "name": "Two",
            "kind": "other",
            "issuer": "https://lms.example.org",
            "client_id": "c",
            "jwks_url": "not a url",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Another registration of your school already uses this issuer and client id." in page
    assert "Enter a valid URL." in page
    with scopes_disabled():
        assert not LtiRegistration.objects.filter(name="Two").exists()
    # Another school may register the same LMS: its URLs differ, so its launches stay its own.
    client_for(cast.bob).post(
        reverse("lti_registration_create"),
        {"name": "Same", "kind": "other", "issuer": "https://lms.example.org", "client_id": "c"},
    )
    with scopes_disabled():
        assert LtiRegistration.objects.get(name="Same").school == cast.school_b


def test_deleting_a_registration_keeps_people_and_classes(cast, client_for):
    with scopes_disabled():
        registration = LtiRegistration.objects.create(school=cast.school_a, name="Old LMS")
    response = client_for(cast.alice).post(
        reverse("lti_registration_delete", args=[registration.uuid]), follow=True
    )
    assert "removed" in response.content.decode()
    with scopes_disabled():
        assert not LtiRegistration.objects.filter(pk=registration.pk).exists()
        assert cast.class_a.__class__.objects.filter(pk=cast.class_a.pk).exists()


def test_private_keys_are_encrypted_at_rest_and_never_shown(cast, client_for, settings):
    with scopes_disabled():
        LtiRegistration.objects.create(school=cast.school_a, name="LMS")
        key = keys.current_key(cast.school_a)
        pem = keys.private_pem(key)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert "PRIVATE KEY" not in key.encrypted_private_key and pem not in key.encrypted_private_key
    page = client_for(cast.alice).get(reverse("api_integrations")).content.decode()
    assert key.kid[:12] in page
    assert "PRIVATE" not in page and key.encrypted_private_key[:40] not in page
    with scopes_disabled():
        published = json.dumps(keys.jwks(cast.school_a))
    assert '"d"' not in published and '"p"' not in published
    # A new SECRET_KEY with the old one kept as a fallback still opens the key; without it, it says what to do.
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-for-this-test"
    assert keys.private_pem(key) == pem
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(RuntimeError, match="Rotate the school's LTI key"):
        keys.private_pem(key)


def test_admin_rotates_the_key_and_the_old_one_stays_published(cast, client_for):
    with scopes_disabled():
        LtiRegistration.objects.create(school=cast.school_a, name="LMS")
        old = keys.current_key(cast.school_a)
    response = client_for(cast.alice).post(reverse("lti_key_rotate"), follow=True)
    with scopes_disabled():
        new = keys.current_key(cast.school_a)
        assert LtiKey.objects.get(pk=old.pk).retired_at is not None
    assert new.pk != old.pk
    page = response.content.decode()
    assert f"New signing key {new.kid[:12]}" in page and "retired, published until" in page
    with scopes_disabled():
        assert [k["kid"] for k in keys.jwks(cast.school_a)["keys"]] == [new.kid, old.kid]


@pytest.mark.parametrize(
    ("roles", "role"),
    [
        ([V + "membership#Learner"], Role.STUDENT),
        (["Learner"], Role.STUDENT),
        ([V + "membership#Instructor"], Role.TEACHER),
        ([V + "membership/Instructor#TeachingAssistant"], Role.TEACHER),
        ([V + "institution/person#Administrator", V + "membership#Instructor"], Role.ADMIN),
        ([V + "system/person#Administrator"], Role.ADMIN),
        ([V + "membership#Administrator"], Role.ADMIN),
        # Canvas sends institution roles in every course: a course Learner role wins over them.
        ([V + "institution/person#Administrator", V + "membership#Learner"], Role.STUDENT),
        ([V + "institution/person#Instructor", V + "membership#Learner"], Role.STUDENT),
        ([V + "institution/person#Instructor"], Role.TEACHER),
        ([V + "membership#Mentor"], None),
        ([V + "membership#ContentDeveloper"], None),
        ([], None),
    ],
)
def test_lms_roles_map_to_one_fermonitor_role(roles, role):
    assert fermonitor_role(roles) == role
