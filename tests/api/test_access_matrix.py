"""Every endpoint against every kind of caller: the key decides the school, the role decides the rest.

Callers: school A's read-write key, its read-only key, a revoked key, no credentials, school B's key, and
logged-in people (alice the admin, tom teaching class A, tess teaching nothing, sam a student of class A, bob the
admin of school B, op the platform operator). Every request targets school A's objects.
"""

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.utils import timezone

from .conftest import client_for_user, client_with_key, issue_keys, record_lesson

OK = {"GET": 200, "POST": 201, "PUT": 200, "PATCH": 200, "DELETE": 204}


@dataclass
class Endpoint:
    name: str
    method: str
    path: str  # formatted with the cast's uuids
    body: dict | None = None
    ok: int | None = None  # success status (default by method)
    other_school: int = 404  # what school B's callers get
    people: dict = field(default_factory=dict)  # tom/tess/sam -> status (default: success)

    @property
    def success(self) -> int:
        return self.ok or OK[self.method]


def tom_only(**overrides):
    """Writes a class's teacher may do but a teacher without the class and students may not."""
    return {"tess": 403, "sam": 403, **overrides}


ADMIN_ONLY = {"tom": 403, "tess": 403, "sam": 403}

ENDPOINTS = [
    Endpoint("me", "GET", "/api/v1/me/", other_school=200),
    Endpoint("classes list", "GET", "/api/v1/classes/", other_school=200),
    Endpoint(
        "classes create",
        "POST",
        "/api/v1/classes/",
        {"name": "Chemistry", "teacher": "{tom}"},
        other_school=400,
        people=ADMIN_ONLY,
    ),
    Endpoint("class detail", "GET", "/api/v1/classes/{class_a}/", people={"tess": 403}),
    Endpoint("class update", "PATCH", "/api/v1/classes/{class_a}/", {"subject": "Optics"}, people=tom_only()),
    Endpoint("class delete", "DELETE", "/api/v1/classes/{class_spare}/", people=ADMIN_ONLY),
    Endpoint(
        "class roster",
        "PUT",
        "/api/v1/classes/{class_a}/roster/",
        {"students": [{"lms_id": "s-1", "email": "new1@example.org"}]},
        people=ADMIN_ONLY,
    ),
    Endpoint("students list", "GET", "/api/v1/students/", other_school=200),
    Endpoint(
        "students create",
        "POST",
        "/api/v1/students/",
        {"lms_id": "s-9", "email": "s9@example.org", "first_name": "Nine"},
        other_school=201,  # creates a student in school B: nothing of school A is involved
        people=ADMIN_ONLY,
    ),
    Endpoint("student detail", "GET", "/api/v1/students/{sam}/", people={"tess": 403}),
    Endpoint(
        "student update", "PATCH", "/api/v1/students/{sam}/", {"first_name": "Samuel"}, people=ADMIN_ONLY
    ),
    Endpoint("student deactivate", "DELETE", "/api/v1/students/{nina}/", people=ADMIN_ONLY),
    Endpoint(
        "students bulk upsert",
        "POST",
        "/api/v1/students/bulk-upsert/",
        {"items": [{"lms_id": "s-1", "first_name": "One"}]},
        ok=200,
        other_school=200,
        people=ADMIN_ONLY,
    ),
    Endpoint("teachers list", "GET", "/api/v1/teachers/", other_school=200),
    Endpoint(
        "teachers create",
        "POST",
        "/api/v1/teachers/",
        {"lms_id": "t-9", "email": "t9@example.org"},
        other_school=201,
        people=ADMIN_ONLY,
    ),
    Endpoint("teacher detail", "GET", "/api/v1/teachers/{tom}/", people={"tess": 403}),
    Endpoint("teacher update", "PATCH", "/api/v1/teachers/{tom}/", {"last_name": "Smith"}, people=ADMIN_ONLY),
    Endpoint("teacher deactivate", "DELETE", "/api/v1/teachers/{tess}/", people=ADMIN_ONLY),
    Endpoint(
        "teachers bulk upsert",
        "POST",
        "/api/v1/teachers/bulk-upsert/",
        {"items": [{"lms_id": "t-1"}]},
        ok=200,
        other_school=200,
        people=ADMIN_ONLY,
    ),
    Endpoint("enrolments list", "GET", "/api/v1/enrolments/", other_school=200),
    Endpoint("class enrolments", "GET", "/api/v1/classes/{class_a}/enrolments/", people={"tess": 403}),
    Endpoint(
        "enrol", "POST", "/api/v1/classes/{class_a}/enrolments/", {"student": "{nina}"}, people=tom_only()
    ),
    Endpoint("enrolment detail", "GET", "/api/v1/classes/{class_a}/enrolments/{sam}/", people={"tess": 403}),
    Endpoint("unenrol", "DELETE", "/api/v1/classes/{class_a}/enrolments/{nora}/", people=tom_only()),
    Endpoint("sessions list", "GET", "/api/v1/sessions/", other_school=200),
    Endpoint(
        "session schedule",
        "POST",
        "/api/v1/sessions/",
        {"classroom": "{class_a}", "title": "Lenses", "scheduled_start": "{tomorrow}"},
        other_school=400,
        people=tom_only(),
    ),
    Endpoint("session detail", "GET", "/api/v1/sessions/{a_scheduled}/", people={"tess": 403}),
    Endpoint(
        "session update", "PATCH", "/api/v1/sessions/{a_scheduled}/", {"title": "Sound"}, people=tom_only()
    ),
    Endpoint("session start", "POST", "/api/v1/sessions/{a_scheduled}/start/", ok=200, people=tom_only()),
    Endpoint("session end", "POST", "/api/v1/sessions/{a_live}/end/", ok=200, people=tom_only()),
    Endpoint("session cancel", "POST", "/api/v1/sessions/{a_scheduled}/cancel/", ok=200, people=tom_only()),
    Endpoint(
        "session summary", "GET", "/api/v1/sessions/{a_ended}/summary/", people={"tess": 403, "sam": 403}
    ),
    Endpoint("student history", "GET", "/api/v1/students/{sam}/history/", people={"tess": 403}),
    Endpoint(
        "student series", "GET", "/api/v1/students/{sam}/sessions/{a_ended}/series/", people={"tess": 403}
    ),
    Endpoint("samples export", "GET", "/api/v1/samples/", other_school=200),
]

CALLERS = [
    "key_rw",
    "key_ro",
    "key_revoked",
    "no_key",
    "key_other_school",
    "alice",
    "tom",
    "tess",
    "sam",
    "bob",
    "op",
]


def expected(endpoint: Endpoint, caller: str) -> int:
    if caller in ("key_revoked", "no_key"):
        return 401
    if caller == "op":
        return 403  # platform operators have no school to act in
    if caller in ("key_other_school", "bob"):
        return endpoint.other_school
    if caller == "key_ro":
        return endpoint.success if endpoint.method == "GET" else 403
    if caller in ("tom", "tess", "sam"):
        return endpoint.people.get(caller, endpoint.success)
    return endpoint.success


def ids(cast) -> dict:
    return {
        "class_a": cast.class_a.uuid,
        "class_spare": cast.class_spare.uuid,
        "sam": cast.sam.uuid,
        "nina": cast.nina.uuid,
        "nora": cast.nora.uuid,
        "tom": cast.tom.uuid,
        "tess": cast.tess.uuid,
        "a_scheduled": cast.a_scheduled.uuid,
        "a_live": cast.a_live.uuid,
        "a_ended": cast.a_ended.uuid,
        "tomorrow": (timezone.now() + timedelta(days=1)).isoformat(),
    }


def fill(value, names):
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    return value


def make_client(caller, cast, keys):
    by_key = {
        "key_rw": keys.a_rw,
        "key_ro": keys.a_ro,
        "key_revoked": keys.revoked,
        "key_other_school": keys.b_rw,
    }
    if caller in by_key:
        return client_with_key(by_key[caller])
    if caller == "no_key":
        return client_with_key(None)
    return client_for_user(getattr(cast, caller))


@pytest.fixture
def world(cast):
    """The cast plus a class without sessions (deletable) and a recorded lesson, so every read has data."""
    from django_scopes import scopes_disabled

    from classes.models import Classroom

    with scopes_disabled():
        cast.class_spare = Classroom.objects.create(school=cast.school_a, name="Spare room", teacher=cast.tom)
    record_lesson(cast.a_ended, [cast.sam, cast.nora], minutes=2)
    return cast


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_endpoint_answers_each_caller_by_school_and_role(world, endpoint, caller):
    keys = issue_keys(world)
    names = ids(world)
    client = make_client(caller, world, keys)
    path = fill(endpoint.path, names)
    body = fill(endpoint.body, names) if endpoint.body is not None else None
    response = getattr(client, endpoint.method.lower())(path, body, format="json")

    want = expected(endpoint, caller)
    assert response.status_code == want, (caller, endpoint.name, response.content[:400])
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"] and error["message"]
    if response.status_code == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if caller in ("key_other_school", "bob") and response.status_code < 300 and response.content:
        text = response.content.decode()
        leaked = [name for name, value in names.items() if name != "tomorrow" and str(value) in text]
        assert not leaked, f"school A's {leaked} visible to school B"
