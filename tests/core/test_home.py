import pytest


@pytest.mark.parametrize(
    ("who", "target"),
    [("tom", "/teach/"), ("sam", "/learn/"), ("alice", "/school/"), ("op", "/admin/")],
)
def test_home_sends_each_role_to_its_start_page(cast, client_for, who, target):
    response = client_for(getattr(cast, who)).get("/")
    assert response.status_code == 302 and response["Location"] == target


def test_home_asks_anonymous_visitors_to_log_in(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_login_page_renders_and_logs_in_with_the_right_password(cast, client_for):
    client = client_for(None)
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": "tom", "password": cast.password})
    assert response.status_code == 302
    bad = client_for(None).post("/accounts/login/", {"username": "sam", "password": "wrong"})
    assert bad.status_code == 200 and b"Please enter a correct username" in bad.content


def test_healthz_is_a_liveness_check_that_needs_no_database(db, client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
