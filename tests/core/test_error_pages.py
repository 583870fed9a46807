"""When the database cannot be reached, pages answer 503 with Retry-After and a page that says to try again (the
API: JSON), not a bare 500; once it is back the same requests work. Other errors get the 500 page. The database
really is unreachable here: the connection's settings point at a port nobody listens on (PostgreSQL) or at a
folder that does not exist (SQLite)."""

from contextlib import contextmanager

import pytest
from django.db import connection
from django.test import Client, RequestFactory

from classes.errors import RETRY_AFTER_SECONDS, server_error

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def database_down():
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent-fermonitor-folder/db.sqlite3"
    else:
        connection.settings_dict.update(HOST="127.0.0.1", PORT="9")  # discard: nothing listens
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def signed_in(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def test_a_page_answers_503_with_retry_after_while_the_database_is_down_and_works_again_after(
    transactional_cast,
):
    teacher = signed_in(transactional_cast.tom)
    assert teacher.get("/", follow=True).status_code == 200

    with database_down():
        response = teacher.get("/teach/")
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    page = response.content.decode()
    assert "Temporarily unavailable" in page and "cannot reach its database" in page
    assert f'http-equiv="refresh" content="{RETRY_AFTER_SECONDS}"' in page

    assert teacher.get("/teach/").status_code == 200  # the same request, the database back


def test_the_api_answers_json_503_while_the_database_is_down(transactional_cast):
    from analytics.lms.models import ApiKey

    _, raw = ApiKey.issue(transactional_cast.school_a, "Moodle A", "read")
    api = Client(raise_request_exception=False, headers={"Authorization": f"Bearer {raw}"})
    assert api.get("/api/v1/me/").status_code == 200

    with database_down():
        response = api.get("/api/v1/me/")
    assert response.status_code == 503 and response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.json()["error"]["code"] == "database_unavailable"

    assert api.get("/api/v1/me/").status_code == 200


def test_an_error_that_is_not_the_database_is_a_500_page_in_the_active_language():
    from django.utils import translation

    request = RequestFactory().get("/teach/")
    with translation.override("hi"):
        try:
            raise ValueError("a bug")
        except ValueError:
            response = server_error(request)
    assert response.status_code == 500 and "Retry-After" not in response
    assert "सर्वर" in response.content.decode()  # "Server error", in Hindi
    api = RequestFactory().get("/api/v1/me/")
    try:
        raise ValueError("a bug")
    except ValueError:
        assert server_error(api)["Content-Type"] == "application/json"
