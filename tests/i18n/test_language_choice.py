"""Who reads which language: a user's own choice (stored on the account), else the school's default, else the
language cookie / browser; the switcher is on every page, and dates and numbers follow the language."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

HINDI_MY_CLASSES = "मेरी कक्षाएँ"


def switch(client, language, next_url="/"):
    return client.post(reverse("set_language"), {"language": language, "next": next_url})


def test_a_user_who_switches_to_hindi_keeps_it_on_the_account(cast, client_for):
    client = client_for(cast.sam)
    response = switch(client, "hi", reverse("student_home"))
    assert response.status_code == 302 and response.url == reverse("student_home")
    cast.sam.refresh_from_db()
    assert cast.sam.language == "hi"
    page = client_for(cast.sam).get(reverse("student_home")).content.decode()  # a fresh login, no cookie
    assert '<html lang="hi"' in page and HINDI_MY_CLASSES in page
    assert 'id="language-switcher"' in page


def test_english_stays_the_default_and_nobody_elses_language_changes(cast, client_for):
    switch(client_for(cast.sam), "hi")
    page = client_for(cast.nina).get(reverse("student_home")).content.decode()
    assert '<html lang="en"' in page and "My classes" in page and HINDI_MY_CLASSES not in page


def test_the_school_default_applies_to_people_without_a_choice_of_their_own(cast, client_for):
    admin = client_for(cast.alice)
    response = admin.post(
        reverse("school_admin_settings"),
        {"language": "hi", "retention_days": 180, "aggregate_retention_days": 730},
    )
    assert response.status_code == 302
    cast.school_a.refresh_from_db()
    assert cast.school_a.language == "hi"
    assert HINDI_MY_CLASSES in client_for(cast.tom).get(reverse("teacher_home")).content.decode()
    with scopes_disabled():
        cast.nina.language = "en"
        cast.nina.save(update_fields=["language"])
    assert "My classes" in client_for(cast.nina).get(reverse("student_home")).content.decode()
    # The other school keeps its own default.
    assert "My classes" in client_for(cast.bill).get(reverse("teacher_home")).content.decode()


def test_a_visitor_can_switch_the_login_page_and_an_unknown_language_is_ignored(cast, client):
    assert "Log in" in client.get(reverse("login")).content.decode()
    switch(client, "hi", reverse("login"))
    assert "लॉग इन" in client.get(reverse("login")).content.decode()
    switch(client, "xx", reverse("login"))
    assert "लॉग इन" in client.get(reverse("login")).content.decode()


def test_only_school_admins_change_the_school_default(cast, client_for):
    response = client_for(cast.tom).post(
        reverse("school_admin_settings"),
        {"language": "hi", "retention_days": 180, "aggregate_retention_days": 730},
    )
    assert response.status_code == 403
    cast.school_a.refresh_from_db()
    assert cast.school_a.language == "en"


def test_the_script_catalogue_is_served_in_the_active_language(cast, client_for):
    client = client_for(cast.sam)
    english = client.get(reverse("javascript-catalog")).content.decode()
    switch(client, "hi")
    hindi = client.get(reverse("javascript-catalog")).content.decode()
    face_found, angry = (json.dumps(text)[1:-1] for text in ("चेहरा मिला", "गुस्सा"))  # as the catalogue escapes
    assert face_found not in english
    assert face_found in hindi and angry in hindi


def test_dates_follow_the_language(cast, client_for):
    with scopes_disabled():
        cast.a_scheduled.scheduled_start = timezone.now().replace(month=12, day=1) + timedelta(days=365)
        cast.a_scheduled.save(update_fields=["scheduled_start"])
    client = client_for(cast.tom)
    switch(client, "hi")
    page = client.get(reverse("classroom_detail", args=[cast.class_a.uuid])).content.decode()
    assert "दिस्" in page  # December, abbreviated, in the upcoming sessions' table


@pytest.mark.parametrize("path", ["student_home", "consent", "my_data"])
def test_student_pages_render_in_hindi(cast, client_for, path):
    client = client_for(cast.sam)
    switch(client, "hi")
    response = client.get(reverse(path))
    assert response.status_code == 200
    assert '<html lang="hi"' in response.content.decode()
