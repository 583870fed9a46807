"""Managing teachers and students: temporary passwords shown once and working, search and filters, edits,
deactivation that really stops logins, and reset that replaces the password and lifts a lockout."""

import re

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from classes.models import Role, User


def login(client, username, password):
    """Log in through the real login page (django-axes needs the request; `client.login` has none)."""
    return client.post(reverse("login"), {"username": username, "password": password})


def logged_in(response) -> bool:
    return response.status_code == 302 and response.wsgi_request.user.is_authenticated


def shown_password(response) -> str:
    match = re.search(r"<code data-password>([^<]+)</code>", response.content.decode())
    assert match, "the temporary password is on the page"
    return match.group(1)


@pytest.mark.parametrize("role", [Role.TEACHER, Role.STUDENT])
def test_created_person_gets_a_temporary_password_shown_once_that_logs_in(cast, client_for, client, role):
    response = client_for(cast.alice).post(
        reverse("school_admin_person_create"),
        {"role": role, "full_name": "  Ada   Lovelace ", "email": "Ada@Example.org"},
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    password = shown_password(response)
    with scopes_disabled():
        ada = User.objects.get(email="ada@example.org")
    assert (ada.school, ada.role, ada.first_name, ada.last_name) == (cast.school_a, role, "Ada", "Lovelace")
    assert not ada.is_staff and not ada.is_superuser
    assert ada.check_password(password)
    assert password not in ada.password
    assert logged_in(login(client, ada.username, password))
    # Shown once: the person's page never shows it again.
    page = client_for(cast.alice).get(reverse("school_admin_person", args=[ada.uuid])).content.decode()
    assert password not in page


def test_each_temporary_password_is_different(cast, client_for):
    client = client_for(cast.alice)
    passwords = {
        shown_password(
            client.post(
                reverse("school_admin_person_create"),
                {"role": "student", "full_name": f"Student {n}", "email": f"s{n}@example.org"},
            )
        )
        for n in range(5)
    }
    assert len(passwords) == 5


def test_admin_cannot_create_admins_through_the_role_field(cast, client_for):
    response = client_for(cast.alice).post(
        reverse("school_admin_person_create"),
        {"role": "admin", "full_name": "Sneaky Admin", "email": "sneaky@example.org"},
    )
    assert response.status_code == 400
    with scopes_disabled():
        assert not User.objects.filter(email="sneaky@example.org").exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"role": "student", "full_name": "", "email": "x@example.org"}, "full_name"),
        ({"role": "student", "full_name": "X Y", "email": "not-an-email"}, "email"),
        ({"role": "student", "full_name": "X Y", "email": "SAM@example.org"}, "email"),  # sam's, any case
    ],
)
def test_invalid_person_is_refused_with_the_field_marked(cast, client_for, data, field):
    with scopes_disabled():
        before = User.objects.count()
    response = client_for(cast.alice).post(reverse("school_admin_person_create"), data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert 'aria-invalid="true"' in response.content.decode()
    with scopes_disabled():
        assert User.objects.count() == before


def test_same_email_is_fine_in_another_school(cast, client_for):
    response = client_for(cast.bob).post(
        reverse("school_admin_person_create"),
        {"role": "student", "full_name": "Sam Twin", "email": "sam@example.org"},
    )
    assert response.status_code == 200


def test_people_search_and_role_filter(cast, client_for):
    client = client_for(cast.alice)

    def listed(query):
        page = client.get(reverse("school_admin_people") + query).context["page"]
        return {p.username for p in page.object_list}

    assert listed("") == {"alice", "tom", "tess", "sam", "nina", "nora"}
    assert listed("?role=teacher") == {"tom", "tess"}
    assert listed("?role=student") == {"sam", "nina", "nora"}
    assert listed("?q=NIN") == {"nina"}
    assert listed("?q=alpha+to") == {"tom"}  # every word must match (last name "Alpha", username "tom")
    assert listed("?q=nora@example") == {"nora"}
    assert listed("?role=teacher&q=sam") == set()
    assert listed("?role=bogus") == listed("")


def test_edit_changes_name_and_email_only(cast, client_for):
    response = client_for(cast.alice).post(
        reverse("school_admin_person", args=[cast.tom.uuid]),
        {"full_name": "Thomas Anderson", "email": "neo@example.org", "role": "admin", "is_superuser": "on"},
    )
    assert response.status_code == 302
    with scopes_disabled():
        tom = User.objects.get(pk=cast.tom.pk)
    assert (tom.first_name, tom.last_name, tom.email) == ("Thomas", "Anderson", "neo@example.org")
    assert (tom.role, tom.is_superuser, tom.is_staff) == (Role.TEACHER, False, False)


def test_deactivated_person_cannot_log_in_and_loses_open_sessions(cast, client_for, client):
    sams_browser = client_for(cast.sam)
    assert sams_browser.get(reverse("student_home")).status_code == 200
    response = client_for(cast.alice).post(reverse("school_admin_person_deactivate", args=[cast.sam.uuid]))
    assert response.status_code == 302
    assert not login(client, "sam", cast.password).wsgi_request.user.is_authenticated
    # The session sam already had no longer works either.
    assert sams_browser.get(reverse("student_home")).status_code == 302
    listing = client_for(cast.alice).get(reverse("school_admin_people") + "?status=inactive")
    assert [p.username for p in listing.context["page"].object_list] == ["sam"]

    client_for(cast.alice).post(reverse("school_admin_person_reactivate", args=[cast.sam.uuid]))
    assert logged_in(login(client, "sam", cast.password))


def test_reset_password_replaces_the_old_one(cast, client_for, client):
    response = client_for(cast.alice).post(
        reverse("school_admin_person_reset_password", args=[cast.tom.uuid])
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    password = shown_password(response)
    assert not login(client, "tom", cast.password).wsgi_request.user.is_authenticated
    assert logged_in(login(client, "tom", password))


def test_reset_password_lifts_a_lockout(cast, client_for, client, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "tom", "wrong")
    assert login(client, "tom", cast.password).status_code == 429
    response = client_for(cast.alice).post(
        reverse("school_admin_person_reset_password", args=[cast.tom.uuid])
    )
    assert logged_in(login(client, "tom", shown_password(response)))


def test_home_counts_the_school(cast, client_for):
    response = client_for(cast.alice).get(reverse("school_admin_home"))
    context = response.context
    assert (context["people"]["teachers"], context["people"]["students"], context["people"]["admins"]) == (
        2,
        3,
        1,
    )
    assert context["class_count"] == 1
    assert (context["sessions"]["live"], context["sessions"]["scheduled"], context["sessions"]["ended"]) == (
        1,
        1,
        1,
    )
    # sam and nina consented, nora has not decided.
    assert context["decisions"] == {"granted": 2, "refused": 0}
    assert context["undecided"] == 1
    body = response.content.decode()
    for name in (
        "school_admin_people",
        "school_admin_classes",
        "school_admin_settings",
        "school_admin_consent",
    ):
        assert f'href="{reverse(name)}"' in body


def test_classes_page_links_live_and_ended_sessions(cast, client_for):
    body = client_for(cast.alice).get(reverse("school_admin_classes")).content.decode()
    assert reverse("live_dashboard", args=[cast.a_live.uuid]) in body
    assert reverse("session_report", args=[cast.a_ended.uuid]) in body
    assert reverse("session_report", args=[cast.a_scheduled.uuid]) not in body
    assert 'class="badge badge-live"' in body and 'class="badge badge-ended"' in body
    assert 'class="badge badge-scheduled"' in body
    ended_only = client_for(cast.alice).get(reverse("school_admin_classes") + "?status=ended")
    assert [s.pk for s in ended_only.context["page"].object_list] == [cast.a_ended.pk]


def test_school_admin_pages_have_constant_query_counts(cast, client_for, django_assert_max_num_queries):
    client = client_for(cast.alice)
    with django_assert_max_num_queries(15):
        assert client.get(reverse("school_admin_people")).status_code == 200
    with django_assert_max_num_queries(15):
        assert client.get(reverse("school_admin_classes")).status_code == 200
    with django_assert_max_num_queries(15):
        assert client.get(reverse("school_admin_home")).status_code == 200
