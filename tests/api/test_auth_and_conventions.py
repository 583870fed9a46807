"""Keys, the school they imply, and the conventions every endpoint shares (errors, times, limits, 404s)."""

import hashlib
from datetime import UTC, datetime

import pytest
from django_scopes import scopes_disabled

from analytics.lms.models import ApiKey
from classes.models import Classroom

from .conftest import FastAPIClient, client_for_user, client_with_key


def test_key_is_accepted_as_bearer_token_and_as_x_api_key_header(keys):
    for header in ("bearer", "x-api-key"):
        response = client_with_key(keys.a_rw, header=header).get("/api/v1/me/")
        assert response.status_code == 200
        assert response.json()["school"]["slug"] == "alpha"
        assert response.json()["key"] == {
            "name": "Moodle A",
            "prefix": keys.a_rw_obj.prefix,
            "scope": "read_write",
        }


def test_keys_are_stored_as_sha256_hashes_only(keys):
    with scopes_disabled():
        stored = ApiKey.objects.get(pk=keys.a_rw_obj.pk)
    assert stored.hashed_key == hashlib.sha256(keys.a_rw.encode()).hexdigest()
    assert keys.a_rw not in {value for value in vars(stored).values() if isinstance(value, str)}
    assert keys.a_rw.startswith(f"fm_{stored.prefix}_")


@pytest.mark.parametrize(
    "value, message",
    [
        ("fm_nothex00_abc", "not valid"),
        ("garbage", "malformed"),
        ("", None),
    ],
)
def test_unknown_or_malformed_keys_are_refused_with_401(keys, value, message):
    client = FastAPIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {value}")
    response = client.get("/api/v1/classes/")
    assert response.status_code == 401
    if message:
        assert message in response.json()["error"]["message"]


def test_a_key_with_the_right_prefix_but_a_wrong_secret_is_refused(keys):
    forged = keys.a_rw[:-4] + ("aaaa" if not keys.a_rw.endswith("aaaa") else "bbbb")
    assert client_with_key(forged).get("/api/v1/me/").status_code == 401


def test_revoked_key_is_refused_and_says_so(keys):
    response = client_with_key(keys.revoked).get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "authentication_failed",
        "message": "This API key has been revoked.",
    }


def test_last_used_time_is_recorded(keys):
    assert keys.a_ro_obj.last_used_at is None
    client_with_key(keys.a_ro).get("/api/v1/me/")
    with scopes_disabled():
        assert ApiKey.objects.get(pk=keys.a_ro_obj.pk).last_used_at is not None


def test_read_only_key_cannot_write_and_is_told_why(keys, cast):
    response = client_with_key(keys.a_ro).post(
        "/api/v1/classes/", {"name": "X", "teacher": str(cast.tom.uuid)}, format="json"
    )
    assert response.status_code == 403
    assert "read-only" in response.json()["error"]["message"]


def test_school_comes_from_the_key_whatever_the_payload_says(api_b, cast):
    response = api_b.post(
        "/api/v1/classes/",
        {
            "name": "Smuggled",
            "teacher": str(cast.bill.uuid),
            "school": str(cast.school_a.uuid),
            "school_id": 1,
        },
        format="json",
    )
    assert response.status_code == 201
    with scopes_disabled():
        created = Classroom.objects.get(uuid=response.json()["uuid"])
    assert created.school == cast.school_b


def test_another_schools_object_in_a_payload_is_a_field_error_not_a_leak(api_b, cast):
    response = api_b.post("/api/v1/classes/", {"name": "X", "teacher": str(cast.tom.uuid)}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["teacher"] == [
        f"Object with uuid={cast.tom.uuid} does not exist."
    ]
    response = api_b.post(
        "/api/v1/sessions/",
        {"classroom": str(cast.class_a.uuid), "title": "T", "scheduled_start": "2030-01-01T09:00:00Z"},
        format="json",
    )
    assert response.status_code == 400
    assert "classroom" in response.json()["error"]["fields"]


def test_validation_errors_list_messages_per_field(api_a):
    response = api_a.post("/api/v1/sessions/", {"title": "", "planned_minutes": 0}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"] == "Check the highlighted fields."
    assert set(error["fields"]) == {"classroom", "title", "scheduled_start", "planned_minutes"}
    assert error["fields"]["scheduled_start"] == ["This field is required."]
    assert error["fields"]["planned_minutes"] == ["Ensure this value is greater than or equal to 1."]


def test_malformed_json_is_a_parse_error(api_a):
    response = api_a.generic("POST", "/api/v1/classes/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_times_are_utc_iso_8601_whatever_the_server_time_zone(api_a, cast, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    response = api_a.get(f"/api/v1/sessions/{cast.a_scheduled.uuid}/")
    start = response.json()["scheduled_start"]
    assert start.endswith("Z")
    assert datetime.fromisoformat(start) == cast.a_scheduled.scheduled_start.astimezone(UTC)


def test_rate_limit_is_per_key(keys, settings):
    settings.FERMONITOR_API_RATE = "3/minute"
    busy = client_with_key(keys.a_rw)
    statuses = [busy.get("/api/v1/me/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = busy.get("/api/v1/me/")
    assert limited.json()["error"]["code"] == "throttled"
    assert int(limited.headers["Retry-After"]) > 0
    assert client_with_key(keys.a_ro).get("/api/v1/me/").status_code == 200  # another key has its own budget


def test_session_callers_must_send_the_csrf_token_for_writes(cast):
    client = FastAPIClient(enforce_csrf_checks=True)
    client.force_login(cast.alice)
    response = client.post("/api/v1/classes/", {"name": "X", "teacher": str(cast.tom.uuid)}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]
    assert client.get("/api/v1/classes/").status_code == 200


def test_unknown_api_paths_get_a_json_404(api_a):
    response = api_a.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert api_a.get("/api/v1/classes/not-a-uuid/").status_code == 404
    newline = api_a.post("/api/v1/classes/%0A/enrolments/")  # `.` alone would not match the newline
    assert newline.status_code == 404 and newline.json()["error"]["code"] == "not_found"


def test_boolean_filters_refuse_values_that_are_not_true_or_false(api_a, cast):
    assert api_a.get("/api/v1/students/?is_active=false").json()["count"] == 0
    assert api_a.get("/api/v1/students/?is_active=true").json()["count"] == 3
    response = api_a.get("/api/v1/students/?is_active=maybe")
    assert response.status_code == 400 and "is_active" in response.json()["error"]["fields"]


def test_lists_are_paginated_and_ordered(api_a, cast):
    with scopes_disabled():
        for n in range(5):
            Classroom.objects.create(school=cast.school_a, name=f"Room {n}", teacher=cast.tom)
    page = api_a.get("/api/v1/classes/?page_size=2&ordering=-name").json()
    assert page["count"] == 6
    assert [c["name"] for c in page["results"]] == ["Room 4", "Room 3"]
    assert "page=2" in page["next"]
    assert api_a.get("/api/v1/classes/?page=99").status_code == 404


def test_class_list_runs_a_fixed_number_of_queries(api_a, cast, django_assert_max_num_queries):
    with scopes_disabled():
        for n in range(10):
            Classroom.objects.create(school=cast.school_a, name=f"Room {n}", teacher=cast.tom)
    api_a.get("/api/v1/me/")  # last_used_at written
    with django_assert_max_num_queries(4):
        response = api_a.get("/api/v1/classes/")
    assert response.json()["count"] == 11


def test_students_see_their_own_record_only(cast):
    client = client_for_user(cast.sam)
    listed = client.get("/api/v1/students/").json()["results"]
    assert [s["uuid"] for s in listed] == [str(cast.sam.uuid)]
    assert client.get(f"/api/v1/students/{cast.nora.uuid}/").status_code == 403
    assert client.get(f"/api/v1/students/{cast.bea.uuid}/").status_code == 404


def test_teachers_list_only_their_own_classes(cast):
    tom = client_for_user(cast.tom).get("/api/v1/classes/").json()
    tess = client_for_user(cast.tess).get("/api/v1/classes/").json()
    assert [c["uuid"] for c in tom["results"]] == [str(cast.class_a.uuid)]
    assert tess["count"] == 0


def test_teacher_cannot_hand_a_class_to_another_teacher(cast):
    response = client_for_user(cast.tom).patch(
        f"/api/v1/classes/{cast.class_a.uuid}/", {"teacher": str(cast.tess.uuid)}, format="json"
    )
    assert response.status_code == 403


def test_deactivating_a_person_keeps_them_and_can_be_undone(api_a, cast):
    assert api_a.delete(f"/api/v1/students/{cast.nina.uuid}/").status_code == 204
    cast.nina.refresh_from_db()
    assert cast.nina.is_active is False
    response = api_a.patch(f"/api/v1/students/{cast.nina.uuid}/", {"is_active": True}, format="json")
    assert response.json()["is_active"] is True


def test_a_teacher_with_classes_cannot_be_deactivated(api_a, cast):
    response = api_a.delete(f"/api/v1/teachers/{cast.tom.uuid}/")
    assert response.status_code == 409
    assert "teaches" in response.json()["error"]["message"]


def test_a_class_with_a_live_session_cannot_be_deleted(api_a, cast):
    response = api_a.delete(f"/api/v1/classes/{cast.class_a.uuid}/")
    assert response.status_code == 409
    with scopes_disabled():
        assert Classroom.objects.filter(pk=cast.class_a.pk).exists()


def test_lms_ids_are_unique_per_school_but_may_repeat_across_schools(api_a, api_b, cast):
    first = api_a.post(
        "/api/v1/classes/", {"name": "A", "teacher": str(cast.tom.uuid), "lms_id": "c-1"}, format="json"
    )
    assert first.status_code == 201
    again = api_a.post(
        "/api/v1/classes/", {"name": "B", "teacher": str(cast.tom.uuid), "lms_id": "c-1"}, format="json"
    )
    assert again.status_code == 400
    assert "c-1" in again.json()["error"]["fields"]["lms_id"][0]
    other = api_b.post(
        "/api/v1/classes/", {"name": "B", "teacher": str(cast.bill.uuid), "lms_id": "c-1"}, format="json"
    )
    assert other.status_code == 201
    found = api_a.get("/api/v1/classes/?lms_id=c-1").json()
    assert [c["uuid"] for c in found["results"]] == [first.json()["uuid"]]


def test_json_types_are_checked_as_the_schema_states_them(api_a, cast):
    response = api_a.post(
        "/api/v1/sessions/",
        {
            "classroom": str(cast.class_a.uuid),
            "title": 7,
            "scheduled_start": "2030-01-01T09:00:00Z",
            "planned_minutes": "45",
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "title": ["Expected a string."],
        "planned_minutes": ["Expected a whole number."],
    }
    upsert = api_a.post("/api/v1/students/bulk-upsert/", {"items": [{"lms_id": 0}]}, format="json")
    assert upsert.json()["error"]["fields"] == {"items.0.lms_id": ["Expected a string."]}
