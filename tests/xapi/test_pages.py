"""The LRS page: only a school's admins reach it; the secret is stored encrypted and never shown again; the test
statement shows the LRS's answer; the Integrations page shows the LRS and its failures."""

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from analytics.lms.models import Delivery
from analytics.lms.secrets import SecretUnreadable
from analytics.lms.xapi.models import LrsSettings
from tests.live.servers import free_port

from .conftest import PASSWORDS, PLATFORM, admin_client, connect, statement_rows

FORM = {
    "enabled": "on",
    "key": "alpha",
    "version": "1.0.3",
    "actor_identification": "account",
    "platform_url": PLATFORM,
    "lms_url": "",
    "give_up_after_hours": "72",
}


def saved(school) -> LrsSettings | None:
    with scopes_disabled():
        return LrsSettings.objects.filter(school=school).first()


def a_failed_statement(cast):
    """School A's LRS with one statement that gave up."""
    lrs = connect(cast.school_a, "http://127.0.0.1:9/xAPI/", "alpha")
    with scopes_disabled():
        return Delivery.objects.create(
            school=cast.school_a,
            kind="xapi",
            lrs=lrs,
            event="xapi.attended",
            payload={"id": "x"},
            status="failed",
            last_error="HTTP 503: down",
        )


# --- who may -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"), [("tom", 403), ("tess", 403), ("sam", 403), ("op", 403), (None, 302)]
)
def test_only_school_admins_reach_the_lrs_page_and_its_actions(cast, who, status):
    failed = a_failed_statement(cast)
    client = admin_client(cast, who) if who else Client()
    assert client.get("/school/integrations/lrs/").status_code == status
    assert (
        client.post("/school/integrations/lrs/save", {**FORM, "endpoint": "https://x.example/"}).status_code
        == status
    )
    assert client.post("/school/integrations/lrs/test").status_code == status
    assert client.post("/school/integrations/lrs/resend-failed").status_code == status
    assert client.post(f"/school/integrations/lrs/statements/{failed.uuid}/resend").status_code == status
    if who is None:
        response = client.get("/school/integrations/lrs/")
        assert (
            response.headers["Location"].startswith("/accounts/login/")
            or "login" in response.headers["Location"]
        )
    with scopes_disabled():
        failed.refresh_from_db()
        assert failed.status == "failed"  # nothing was resent
        assert LrsSettings.objects.get(school=cast.school_a).endpoint == "http://127.0.0.1:9/xAPI/"


def test_school_admins_reach_their_own_lrs_page(cast):
    failed = a_failed_statement(cast)
    alice = admin_client(cast)
    page = alice.get("/school/integrations/lrs/").content.decode()
    assert "http://127.0.0.1:9/xAPI/" in page and str(failed.uuid) in page
    assert alice.post(f"/school/integrations/lrs/statements/{failed.uuid}/resend").status_code == 302
    with scopes_disabled():
        failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 0)


def test_another_schools_admin_neither_sees_nor_resends_this_schools_statements(cast):
    failed = a_failed_statement(cast)
    bob = admin_client(cast, "bob")
    page = bob.get("/school/integrations/lrs/").content.decode()
    assert "127.0.0.1:9" not in page and str(failed.uuid) not in page
    assert "No LRS connected." in bob.get("/school/integrations/").content.decode()
    assert bob.post(f"/school/integrations/lrs/statements/{failed.uuid}/resend").status_code == 404
    bob.post("/school/integrations/lrs/resend-failed")
    with scopes_disabled():
        failed.refresh_from_db()
    assert failed.status == "failed"


# --- settings ------------------------------------------------------------------------------------------------


def test_the_secret_is_stored_encrypted_and_never_shown_again(cast):
    alice = admin_client(cast)
    secret = "s3cret-that-must-not-leak"
    response = alice.post(
        "/school/integrations/lrs/save",
        {**FORM, "endpoint": "https://lrs.example/xAPI", "secret": secret},
        follow=True,
    )
    page = response.content.decode()
    assert "LRS settings saved." in page and secret not in page
    assert "A secret is stored (encrypted). It is never shown again." in page
    lrs = saved(cast.school_a)
    assert lrs.statements_url == "https://lrs.example/xAPI/statements"
    assert secret not in lrs.secret_encrypted and lrs.secret() == secret

    # Saving again without typing it keeps it; typing a new one replaces it.
    alice.post(
        "/school/integrations/lrs/save", {**FORM, "endpoint": "https://lrs.example/xAPI/", "secret": ""}
    )
    assert saved(cast.school_a).secret() == secret
    alice.post(
        "/school/integrations/lrs/save",
        {**FORM, "endpoint": "https://lrs.example/xAPI/", "secret": "second-s3cret-value"},
    )
    assert saved(cast.school_a).secret() == "second-s3cret-value"
    assert "second-s3cret-value" not in alice.get("/school/integrations/lrs/").content.decode()


def test_a_first_save_without_a_secret_or_with_a_bad_url_is_refused_with_the_reason(cast):
    alice = admin_client(cast)
    response = alice.post("/school/integrations/lrs/save", {**FORM, "endpoint": "ftp://lrs.example/"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Enter the secret the LRS gave you for this key." in page and "Enter a valid URL." in page
    assert saved(cast.school_a) is None


def test_a_rotated_secret_key_still_decrypts_through_the_fallbacks_and_otherwise_says_so(cast, settings):
    lrs = connect(cast.school_a, "https://lrs.example/xAPI/", "alpha")
    old = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-secret-key", [old]
    assert saved(cast.school_a).secret() == PASSWORDS["alpha"]
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(SecretUnreadable, match="enter it again"):
        saved(cast.school_a).secret()
    assert lrs.pk


def test_presence_only_schools_cannot_switch_emotions_on(cast):
    with scopes_disabled():
        cast.school_a.presence_only = True
        cast.school_a.save()
    alice = admin_client(cast)
    page = alice.get("/school/integrations/lrs/").content.decode()
    assert "presence-only mode: no emotions are computed or sent" in page
    assert 'name="send_emotions" disabled' in page or ('name="send_emotions"' in page and "disabled" in page)
    alice.post(
        "/school/integrations/lrs/save",
        {**FORM, "endpoint": "https://lrs.example/xAPI/", "secret": "s", "send_emotions": "on"},
    )
    assert saved(cast.school_a).send_emotions is False


def test_emotions_are_off_by_default_and_an_admin_of_a_normal_school_may_opt_in(cast):
    alice = admin_client(cast)
    alice.post(
        "/school/integrations/lrs/save", {**FORM, "endpoint": "https://lrs.example/xAPI/", "secret": "s"}
    )
    assert saved(cast.school_a).send_emotions is False
    alice.post(
        "/school/integrations/lrs/save",
        {**FORM, "endpoint": "https://lrs.example/xAPI/", "send_emotions": "on"},
    )
    assert saved(cast.school_a).send_emotions is True


# --- the test statement --------------------------------------------------------------------------------------


def test_the_test_statement_is_stored_and_the_lrs_answer_is_shown(cast, lrs_a):
    connect(cast.school_a, lrs_a.endpoint, "alpha")
    alice = admin_client(cast)
    response = alice.post("/school/integrations/lrs/test", follow=True)
    page = response.content.decode()
    assert "The LRS stored the test statement: HTTP 200: [&quot;" in page
    lrs = saved(cast.school_a)
    assert lrs.last_test_ok and lrs.last_test_status == 200
    sent_id = lrs.last_test_answer.split('"')[1]
    stored = lrs_a.statement("alpha", sent_id)
    assert stored["verb"]["id"] == "http://adlnet.gov/expapi/verbs/experienced"
    assert stored["actor"]["account"] == {"homePage": PLATFORM, "name": str(cast.alice.uuid)}
    assert 'data-testid="lrs-test-answer">HTTP 200: [' in page
    assert statement_rows() == []  # a test is not a learning record: it stays out of the outbox


@pytest.mark.parametrize(
    ("endpoint", "secret", "expected"),
    [("lrs", "wrong-secret", "HTTP 401"), ("closed", PASSWORDS["alpha"], "ConnectionRefusedError")],
    ids=["wrong-secret", "nothing-listening"],
)
def test_a_failed_test_statement_shows_why(cast, lrs_a, endpoint, secret, expected):
    url = lrs_a.endpoint if endpoint == "lrs" else f"http://127.0.0.1:{free_port()}/xAPI/"
    connect(cast.school_a, url, "alpha", secret=secret)
    page = admin_client(cast).post("/school/integrations/lrs/test", follow=True).content.decode()
    assert "The LRS did not take the test statement:" in page and expected in page
    lrs = saved(cast.school_a)
    assert not lrs.last_test_ok and expected in lrs.last_test_answer


# --- the Integrations page -----------------------------------------------------------------------------------


def test_the_integrations_page_shows_the_lrs_with_its_counts(cast):
    a_failed_statement(cast)
    page = admin_client(cast).get("/school/integrations/").content.decode()
    assert "Learning Record Store (xAPI)" in page and "http://127.0.0.1:9/xAPI/" in page
    assert "0 statements delivered, 0 waiting." in page
    assert "1 statement could not be delivered before the give-up time." in page
    assert "/school/integrations/lrs/?status=failed" in page
