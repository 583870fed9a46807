"""An LMS syncs people and class rosters by its own ids: running the same sync twice changes nothing."""

from django_scopes import scopes_disabled

from classes.models import Enrolment, Role, User

ROSTER = [
    {"lms_id": "u-1", "email": "Ada@Example.org", "first_name": "Ada", "last_name": "Lovelace"},
    {"lms_id": "u-2", "email": "alan@example.org", "first_name": "Alan", "last_name": "Turing"},
]


def school_users(school):
    with scopes_disabled():
        return {u.lms_id: u for u in User.objects.filter(school=school).exclude(lms_id="")}


def test_bulk_upsert_creates_then_reports_unchanged_on_the_second_run(api_a, cast):
    first = api_a.post("/api/v1/students/bulk-upsert/", {"items": ROSTER}, format="json").json()
    assert (first["created"], first["updated"], first["unchanged"]) == (2, 0, 0)
    created = school_users(cast.school_a)
    assert created["u-1"].email == "ada@example.org"
    assert created["u-1"].role == Role.STUDENT and created["u-1"].school == cast.school_a
    assert not created["u-1"].has_usable_password()

    second = api_a.post("/api/v1/students/bulk-upsert/", {"items": ROSTER}, format="json").json()
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 2)
    assert [r["uuid"] for r in second["results"]] == [r["uuid"] for r in first["results"]]
    assert school_users(cast.school_a).keys() == created.keys()


def test_bulk_upsert_updates_only_the_fields_given(api_a, cast):
    api_a.post("/api/v1/students/bulk-upsert/", {"items": ROSTER}, format="json")
    response = api_a.post(
        "/api/v1/students/bulk-upsert/", {"items": [{"lms_id": "u-1", "last_name": "King"}]}, format="json"
    ).json()
    assert response["results"] == [
        {"lms_id": "u-1", "uuid": str(school_users(cast.school_a)["u-1"].uuid), "result": "updated"}
    ]
    ada = school_users(cast.school_a)["u-1"]
    assert (ada.first_name, ada.last_name, ada.email) == ("Ada", "King", "ada@example.org")


def test_bulk_upsert_links_an_existing_account_with_the_same_email(api_a, cast):
    response = api_a.post(
        "/api/v1/students/bulk-upsert/",
        {"items": [{"lms_id": "u-sam", "email": "SAM@example.org"}]},
        format="json",
    ).json()
    assert response["results"][0] == {"lms_id": "u-sam", "uuid": str(cast.sam.uuid), "result": "updated"}
    cast.sam.refresh_from_db()
    assert cast.sam.lms_id == "u-sam"


def test_bulk_upsert_can_deactivate(api_a, cast):
    api_a.post("/api/v1/students/bulk-upsert/", {"items": ROSTER}, format="json")
    api_a.post(
        "/api/v1/students/bulk-upsert/", {"items": [{"lms_id": "u-2", "is_active": False}]}, format="json"
    )
    assert school_users(cast.school_a)["u-2"].is_active is False


def test_a_bad_item_rejects_the_whole_request_and_writes_nothing(api_a, cast):
    with scopes_disabled():
        cast.tom.lms_id = "t-tom"
        cast.tom.save()
    items = [*ROSTER, {"lms_id": "t-tom"}, {"lms_id": "u-4", "email": "not-an-email"}]
    response = api_a.post("/api/v1/students/bulk-upsert/", {"items": items}, format="json")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert fields == {"items.3.email": ["Enter a valid email address."]}  # field validation first
    items[3]["email"] = "u4@example.org"
    response = api_a.post("/api/v1/students/bulk-upsert/", {"items": items}, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["items.2.lms_id"]
    assert "teacher" in response.json()["error"]["fields"]["items.2.lms_id"][0]
    assert set(school_users(cast.school_a)) == {"t-tom"}


def test_duplicate_ids_in_one_request_are_reported_by_item(api_a):
    response = api_a.post(
        "/api/v1/students/bulk-upsert/", {"items": [{"lms_id": "x"}, {"lms_id": "x"}]}, format="json"
    )
    assert response.json()["error"]["fields"] == {"items.1.lms_id": ["Also given in item 0."]}


def test_an_email_of_another_person_is_refused(api_a, cast):
    response = api_a.post(
        "/api/v1/students/bulk-upsert/",
        {"items": [{"lms_id": "u-9", "email": "tom@example.org"}]},
        format="json",
    )
    assert response.status_code == 400
    assert "email" in response.json()["error"]["fields"]["items.0.email"][0]


def test_same_lms_id_in_another_school_is_a_different_person(api_a, api_b, cast):
    api_a.post("/api/v1/students/bulk-upsert/", {"items": ROSTER}, format="json")
    response = api_b.post("/api/v1/students/bulk-upsert/", {"items": ROSTER[:1]}, format="json").json()
    assert response["created"] == 1
    assert school_users(cast.school_b)["u-1"].pk != school_users(cast.school_a)["u-1"].pk


def test_teachers_upsert_the_same_way(api_a, cast):
    body = {"items": [{"lms_id": "t-1", "email": "grace@example.org", "first_name": "Grace"}]}
    assert api_a.post("/api/v1/teachers/bulk-upsert/", body, format="json").json()["created"] == 1
    assert api_a.post("/api/v1/teachers/bulk-upsert/", body, format="json").json()["unchanged"] == 1
    assert school_users(cast.school_a)["t-1"].role == Role.TEACHER


def enrolled(classroom):
    with scopes_disabled():
        return set(Enrolment.objects.filter(classroom=classroom).values_list("student__lms_id", flat=True))


def test_roster_sync_makes_the_class_match_the_lms(api_a, cast):
    path = f"/api/v1/classes/{cast.class_a.uuid}/roster/"
    first = api_a.put(path, {"students": ROSTER}, format="json").json()
    # sam and nora (enrolled before, not in the LMS roster) are unenrolled; their accounts stay.
    assert (first["created"], first["enrolled"], first["unenrolled"], first["already_enrolled"]) == (
        2,
        2,
        2,
        0,
    )
    assert enrolled(cast.class_a) == {"u-1", "u-2"}
    cast.sam.refresh_from_db()
    assert cast.sam.is_active

    again = api_a.put(path, {"students": ROSTER}, format="json").json()
    assert (again["unchanged"], again["enrolled"], again["unenrolled"], again["already_enrolled"]) == (
        2,
        0,
        0,
        2,
    )

    smaller = api_a.put(path, {"students": ROSTER[:1]}, format="json").json()
    assert smaller["unenrolled"] == 1
    assert enrolled(cast.class_a) == {"u-1"}


def test_roster_errors_name_the_item(api_a, cast):
    response = api_a.put(
        f"/api/v1/classes/{cast.class_a.uuid}/roster/", {"students": [{"lms_id": ""}]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"students.0.lms_id": ["This field may not be blank."]}
    assert enrolled(cast.class_a) == {""}  # sam and nora (no LMS ids) untouched


def test_another_schools_key_cannot_sync_this_schools_class(api_b, cast):
    response = api_b.put(f"/api/v1/classes/{cast.class_a.uuid}/roster/", {"students": ROSTER}, format="json")
    assert response.status_code == 404
    assert school_users(cast.school_b) == {}


def test_enrolling_twice_answers_with_the_existing_enrolment(api_a, cast):
    path = f"/api/v1/classes/{cast.class_a.uuid}/enrolments/"
    first = api_a.post(path, {"student": str(cast.nina.uuid)}, format="json")
    second = api_a.post(path, {"student": str(cast.nina.uuid)}, format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()


def test_another_schools_student_cannot_be_enrolled(api_a, cast):
    response = api_a.post(
        f"/api/v1/classes/{cast.class_a.uuid}/enrolments/", {"student": str(cast.bea.uuid)}, format="json"
    )
    assert response.status_code == 400
    assert "student" in response.json()["error"]["fields"]
