"""Every school-admin page and action, for every member of the cast: the exact status, and for actions whether
the change happened, and to which school (only the acting admin's own)."""

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from classes.models import ConsentPolicy, School, User

from .conftest import CAST, statuses

# School-wide pages: each school's admin gets their own school's page; operators have no school (403).
SCHOOL_PAGE = statuses(302, 200, 403, 403, 403, 403, 403, 200, 403, 403, 403)
# Pages about one person of school A: school B's admin must not learn the person exists (404).
MEMBER_PAGE = statuses(302, 200, 403, 403, 403, 403, 403, 404, 403, 403, 403)
MEMBER_ACTION = statuses(302, 302, 403, 403, 403, 403, 403, 404, 403, 403, 403)
MEMBER_ACTION_SHOWN = statuses(302, 200, 403, 403, 403, 403, 403, 404, 403, 403, 403)
SCHOOL_ACTION = statuses(302, 302, 403, 403, 403, 403, 403, 302, 403, 403, 403)
SCHOOL_ACTION_SHOWN = statuses(302, 200, 403, 403, 403, 403, 403, 200, 403, 403, 403)

PAGES = {
    "school_admin_home": (lambda c: reverse("school_admin_home"), SCHOOL_PAGE),
    "school_admin_people": (lambda c: reverse("school_admin_people"), SCHOOL_PAGE),
    "school_admin_people_filtered": (
        lambda c: reverse("school_admin_people") + "?q=a&role=student",
        SCHOOL_PAGE,
    ),
    "school_admin_person_create": (lambda c: reverse("school_admin_person_create"), SCHOOL_PAGE),
    "school_admin_classes": (lambda c: reverse("school_admin_classes"), SCHOOL_PAGE),
    "school_admin_classes_live": (lambda c: reverse("school_admin_classes") + "?status=live", SCHOOL_PAGE),
    "school_admin_settings": (lambda c: reverse("school_admin_settings"), SCHOOL_PAGE),
    "school_admin_consent": (lambda c: reverse("school_admin_consent"), SCHOOL_PAGE),
    "school_admin_person": (lambda c: reverse("school_admin_person", args=[c.sam.uuid]), MEMBER_PAGE),
    "school_admin_person_teacher": (lambda c: reverse("school_admin_person", args=[c.tom.uuid]), MEMBER_PAGE),
}


def who_user(cast, who):
    return getattr(cast, who) if who else None


@pytest.mark.parametrize("who", CAST)
@pytest.mark.parametrize("page", list(PAGES))
def test_page_access_matrix(cast, client_for, page, who):
    url, expected = PAGES[page]
    response = client_for(who_user(cast, who)).get(url(cast))
    assert response.status_code == expected[who]
    if who is None:
        assert response["Location"].startswith("/accounts/login/")


def _fresh(user):
    with scopes_disabled():
        return User.objects.get(pk=user.pk)


def _school(cast, who):
    return {"alice": cast.school_a, "bob": cast.school_b}.get(who)


def _deactivate(c):
    return reverse("school_admin_person_deactivate", args=[c.sam.uuid]), {}


def _deactivated(c, who):
    return not _fresh(c.sam).is_active


def _reactivate(c):
    # A deactivated student outside the cast: a deactivated cast member could not act in the matrix.
    with scopes_disabled():
        c.dormant = User.objects.create(
            username="dormant", school=c.school_a, role="student", is_active=False
        )
    return reverse("school_admin_person_reactivate", args=[c.dormant.uuid]), {}


def _reactivated(c, who):
    return _fresh(c.dormant).is_active


def _reset(c):
    return reverse("school_admin_person_reset_password", args=[c.sam.uuid]), {}


def _was_reset(c, who):
    return not _fresh(c.sam).check_password(c.password)


def _edit(c):
    return reverse("school_admin_person", args=[c.sam.uuid]), {
        "full_name": "Samuel Renamed",
        "email": "s@x.org",
    }


def _edited(c, who):
    return _fresh(c.sam).last_name == "Renamed"


def _create(c):
    return reverse("school_admin_person_create"), {
        "role": "teacher",
        "full_name": "Newt Teacher",
        "email": "newt@example.org",
    }


def _created(c, who):
    with scopes_disabled():
        created = User.objects.filter(email="newt@example.org").first()
    if created is None:
        return False
    assert created.school_id == _school(c, who).pk, "created in the acting admin's own school"
    return True


def _settings(c):
    return reverse("school_admin_settings"), {
        "presence_only": "on",
        "retention_days": "30",
        "aggregate_retention_days": "365",
    }


def _settings_saved(c, who):
    with scopes_disabled():
        changed = list(School.objects.filter(retention_days=30, presence_only=True))
    if not changed:
        return False
    assert changed == [_school(c, who)], "only the acting admin's school changes"
    return True


def _publish(c):
    return reverse("school_admin_consent"), {"text": "New words about cameras."}


def _published(c, who):
    with scopes_disabled():
        published = list(ConsentPolicy.objects.filter(text__startswith="New words"))
    if not published:
        return False
    assert [p.school for p in published] == [_school(c, who)]
    return True


# name: (prepare -> (url, data), "was it done?" check, expected statuses)
ACTIONS = {
    "deactivate": (_deactivate, _deactivated, MEMBER_ACTION),
    "reactivate": (_reactivate, _reactivated, MEMBER_ACTION),
    "reset_password": (_reset, _was_reset, MEMBER_ACTION_SHOWN),
    "edit": (_edit, _edited, MEMBER_ACTION),
    "create": (_create, _created, SCHOOL_ACTION_SHOWN),
    "settings": (_settings, _settings_saved, SCHOOL_ACTION),
    "publish_policy": (_publish, _published, SCHOOL_ACTION),
}


@pytest.mark.parametrize("who", CAST)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_action_access_matrix(cast, client_for, action, who):
    prepare, done, expected = ACTIONS[action]
    url, data = prepare(cast)
    response = client_for(who_user(cast, who)).post(url, data)
    assert response.status_code == expected[who]
    allowed = expected[who] in (200, 302) and who is not None
    assert done(cast, who) is allowed
    if who is None:
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    "name",
    [
        "school_admin_person_deactivate",
        "school_admin_person_reactivate",
        "school_admin_person_reset_password",
    ],
)
def test_state_changing_actions_refuse_get(cast, client_for, name):
    response = client_for(cast.alice).get(reverse(name, args=[cast.sam.uuid]))
    assert response.status_code == 405
    assert _fresh(cast.sam).is_active and _fresh(cast.sam).check_password(cast.password)


# --- UUIDs swapped: bob (school B) acting on school A's people --------------------------------------------


@pytest.mark.parametrize("target", ["alice", "tom", "tess", "sam", "nina", "nora"])
@pytest.mark.parametrize(
    "name",
    [
        "school_admin_person",
        "school_admin_person_deactivate",
        "school_admin_person_reactivate",
        "school_admin_person_reset_password",
    ],
)
def test_other_schools_admin_gets_404_and_changes_nothing(cast, client_for, name, target):
    person = getattr(cast, target)
    before = _fresh(person)
    client = client_for(cast.bob)
    url = reverse(name, args=[person.uuid])
    response = client.post(url, {"full_name": "Hijacked", "email": "hijack@example.org"})
    assert response.status_code == 404
    assert client.get(reverse("school_admin_person", args=[person.uuid])).status_code == 404
    after = _fresh(person)
    assert (after.is_active, after.password, after.last_name, after.email) == (
        before.is_active,
        before.password,
        before.last_name,
        before.email,
    )


def test_unknown_uuid_is_404(cast, client_for):
    import uuid

    response = client_for(cast.alice).get(reverse("school_admin_person", args=[uuid.uuid4()]))
    assert response.status_code == 404


@pytest.mark.parametrize("target", ["alice", "bob"])
def test_admin_accounts_are_not_managed_on_school_pages(cast, client_for, target):
    """An admin cannot deactivate or reset another admin (or themselves) here: 403 in their school, 404 outside."""
    person = getattr(cast, target)
    response = client_for(cast.alice).post(reverse("school_admin_person_deactivate", args=[person.uuid]))
    assert response.status_code == (403 if target == "alice" else 404)
    assert _fresh(person).is_active


def test_school_pages_never_list_other_schools_people_or_sessions(cast, client_for):
    client = client_for(cast.bob)
    people = client.get(reverse("school_admin_people")).content.decode()
    classes = client.get(reverse("school_admin_classes")).content.decode()
    for person in (cast.alice, cast.tom, cast.sam, cast.nina):
        assert str(person.uuid) not in people
        assert person.username not in people
    assert cast.bea.username in people and cast.bill.username in people
    for session in (cast.a_live, cast.a_scheduled, cast.a_ended):
        assert str(session.uuid) not in classes
    assert str(cast.b_live.uuid) in classes
    assert cast.class_a.name not in classes and cast.class_b.name in classes
