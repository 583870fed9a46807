"""School admins manage API keys and webhooks on /school/integrations/; nobody else can."""

import re

import pytest
from django_scopes import scopes_disabled

from analytics.lms.models import ApiKey, Webhook

from .conftest import FastAPIClient, client_for_user, client_with_key


def test_admin_creates_a_key_that_is_shown_once_and_works(cast):
    alice = client_for_user(cast.alice)
    response = alice.post("/school/integrations/keys/new", {"name": "Moodle", "scope": "read_write"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    raw = re.search(r'value="(fm_[0-9a-f]{8}_[^"]+)"', response.content.decode()).group(1)

    with scopes_disabled():
        key = ApiKey.objects.get(name="Moodle")
    assert (key.school, key.scope, key.created_by) == (cast.school_a, "read_write", cast.alice)
    assert client_with_key(raw).get("/api/v1/me/").json()["school"]["slug"] == "alpha"

    listing = alice.get("/school/integrations/").content.decode()
    assert f"fm_{key.prefix}_" in listing
    assert raw not in listing  # never shown again


def test_admin_revokes_a_key_and_it_stops_working_at_once(cast, keys):
    alice = client_for_user(cast.alice)
    response = alice.post(f"/school/integrations/keys/{keys.a_rw_obj.uuid}/revoke", follow=True)
    assert "is revoked" in response.content.decode()
    assert client_with_key(keys.a_rw).get("/api/v1/me/").status_code == 401


def test_key_form_errors_are_shown(cast):
    response = client_for_user(cast.alice).post(
        "/school/integrations/keys/new", {"name": "", "scope": "admin"}
    )
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_another_schools_admin_cannot_see_or_revoke_this_schools_keys(cast, keys):
    bob = client_for_user(cast.bob)
    assert keys.a_rw_obj.prefix not in bob.get("/school/integrations/").content.decode()
    assert bob.post(f"/school/integrations/keys/{keys.a_rw_obj.uuid}/revoke").status_code == 404
    assert client_with_key(keys.a_rw).get("/api/v1/me/").status_code == 200


@pytest.mark.parametrize("who, status", [("tom", 403), ("sam", 403), ("op", 403), (None, 302)])
def test_only_school_admins_reach_the_integrations_pages(cast, who, status):
    client = client_for_user(getattr(cast, who)) if who else FastAPIClient()
    assert client.get("/school/integrations/").status_code == status
    assert client.post("/school/integrations/keys/new", {"name": "x", "scope": "read"}).status_code == status
    with scopes_disabled():
        assert not ApiKey.objects.filter(name="x").exists()


def test_admin_adds_a_webhook_and_sees_its_secret(cast):
    alice = client_for_user(cast.alice)
    response = alice.post(
        "/school/integrations/webhooks/new",
        {
            "url": "https://lms.example.org/hooks",
            "events": ["session.ended", "alert.raised"],
            "description": "LMS",
        },
        follow=True,
    )
    with scopes_disabled():
        hook = Webhook.objects.get()
    assert (hook.school, hook.events) == (cast.school_a, ["session.ended", "alert.raised"])
    page = response.content.decode()
    assert hook.secret in page and "Delivery log" in page

    rotated = alice.post(f"/school/integrations/webhooks/{hook.uuid}/rotate")
    assert rotated.status_code == 302
    old_secret = hook.secret
    hook.refresh_from_db()
    assert hook.secret != old_secret

    assert client_for_user(cast.bob).get(f"/school/integrations/webhooks/{hook.uuid}/").status_code == 404


def test_webhook_urls_must_be_http_or_https(cast):
    response = client_for_user(cast.alice).post(
        "/school/integrations/webhooks/new", {"url": "ftp://example.org/x", "events": ["session.ended"]}
    )
    assert response.status_code == 400
    with scopes_disabled():
        assert not Webhook.objects.exists()
