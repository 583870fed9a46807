"""Brute-force lockout (django-axes) on the login page."""

from django.conf import settings


def _login(client, username, password):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_after_the_failure_limit_even_the_right_password_is_refused_with_the_locked_out_page(
    cast, client_for
):
    assert settings.AXES_FAILURE_LIMIT == 5
    client = client_for(None)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "sam", "wrong-password")
    response = _login(client, "sam", cast.password)
    assert response.status_code != 302
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Another person (same address) is not affected.
    other = _login(client_for(None), "tom", cast.password)
    assert other.status_code == 302


def test_one_failure_short_of_the_limit_still_logs_in(cast, client_for):
    client = client_for(None)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "sam", "wrong-password").status_code == 200
    assert _login(client, "sam", cast.password).status_code == 302


def test_a_successful_login_resets_the_failure_count(cast, client_for):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client_for(None), "sam", "wrong-password")
    assert _login(client_for(None), "sam", cast.password).status_code == 302
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client_for(None), "sam", "wrong-password")
    assert _login(client_for(None), "sam", cast.password).status_code == 302


def test_a_password_reset_by_the_school_admin_lifts_the_lockout(cast, client_for):
    import re

    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client_for(None), "sam", "wrong-password")
    assert "Too many failed logins" in _login(client_for(None), "sam", cast.password).content.decode()
    reset = client_for(cast.alice).post(f"/school/people/{cast.sam.uuid}/reset-password/")
    password = re.search(r"<code data-password>([^<]+)</code>", reset.content.decode()).group(1)
    assert _login(client_for(None), "sam", password).status_code == 302
