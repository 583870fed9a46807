"""The fixed cast every access test uses: two schools, each with an admin, teachers and students.

School A (Alpha Academy):
  alice  - school admin          tom   - teacher of class_a       tess - teacher without classes
  sam    - student, enrolled in class_a, consented               nina - student, not enrolled anywhere, consented
  nora   - student, enrolled in class_a, has NOT consented
School B (Beta School):
  bob    - school admin          bill  - teacher of class_b       bea  - student, enrolled in class_b, consented
Platform: op - superuser without a school.

Sessions: a_live / a_scheduled / a_ended in class_a, b_live in class_b. Every password is PASSWORD.
"""

import os
from datetime import timedelta
from types import SimpleNamespace

os.environ.setdefault("FERMONITOR_FAST_HASHER", "1")


def _isolate_parallel_workers() -> None:
    """pytest-xdist workers share one Redis: each gets its own channel-layer prefix, so that two workers' sessions
    with the same ids (each worker has its own test database) never hear each other. pytest-django has read the
    settings already, so they are changed in place; servers that tests start inherit the variable."""
    from django.conf import settings

    prefix = f"fermonitor-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    os.environ["CHANNEL_LAYER_PREFIX"] = prefix
    config = settings.CHANNEL_LAYERS["default"].get("CONFIG")
    if config is not None:
        config["prefix"] = prefix


_isolate_parallel_workers()

import pytest  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402

PASSWORD = "fermonitor-test-pass"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite, the test database is a file (one per xdist worker), as the zero-setup server's is, not Django's
    default shared-cache in-memory database. In shared cache, a thread that writes a table another thread is
    reading fails at once with "database table is locked" instead of waiting out the busy timeout; that made the
    background-thread tests (outbox delivery, sample writer) fail now and then under load, where the server on
    its file database would simply wait."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3") and not database.get("TEST", {}).get("NAME"):
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.getbasetemp() / "test-db.sqlite3")


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _forget_this_threads_connections() -> None:
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close()
        # On SQLite's in-memory test database close() does nothing (it would destroy the database), so the
        # wrapper is dropped: its sqlite3 connection goes with it, the main thread's keeps the database.
        del connections[connection.alias]


@pytest.fixture(autouse=True)
def _no_connection_left_on_a_background_thread():
    """The live path's threads outlive the test, each with its own connection: the store's ORM pool, the sample
    writer's thread (PostgreSQL) and asgiref's one thread_sensitive thread (database_sync_to_async, the sample
    writer on SQLite). PostgreSQL refuses to drop a test database that still has sessions, and a connection left on
    the thread_sensitive thread made every later database_sync_to_async in a test without database access fail:
    closing old connections first asks the open one for its autocommit, and pytest-django refuses ("Database
    access not allowed"). Each close is a no-op where the thread never started."""
    yield
    from asgiref.sync import SyncToAsync

    from analytics import sample_writer
    from analytics.live import store

    store.close_connections()
    sample_writer.close_connections()
    SyncToAsync.single_thread_executor.submit(_forget_this_threads_connections).result()


def _make_cast():
    from classes import services
    from classes.models import Classroom, LiveSession, Role, School, SessionStatus, User

    def person(school, role, username, **extra):
        user = User(username=username, school=school, role=role, email=f"{username}@example.org", **extra)
        user.first_name = username.capitalize()
        user.last_name = school.name.split()[0] if school else "Operator"
        user.set_password(PASSWORD)
        user.save()
        return user

    school_a = School.objects.create(name="Alpha Academy", slug="alpha")
    school_b = School.objects.create(name="Beta School", slug="beta")
    c = SimpleNamespace(school_a=school_a, school_b=school_b, password=PASSWORD)
    c.alice = person(school_a, Role.ADMIN, "alice", is_staff=True)
    c.tom = person(school_a, Role.TEACHER, "tom")
    c.tess = person(school_a, Role.TEACHER, "tess")
    c.sam = person(school_a, Role.STUDENT, "sam")
    c.nina = person(school_a, Role.STUDENT, "nina")
    c.nora = person(school_a, Role.STUDENT, "nora")
    c.bob = person(school_b, Role.ADMIN, "bob", is_staff=True)
    c.bill = person(school_b, Role.TEACHER, "bill")
    c.bea = person(school_b, Role.STUDENT, "bea")
    c.op = User(username="op", is_superuser=True, is_staff=True, email="op@example.org")
    c.op.set_password(PASSWORD)
    c.op.save()

    c.class_a = Classroom.objects.create(school=school_a, name="Physics 1A", subject="Physics", teacher=c.tom)
    c.class_b = Classroom.objects.create(
        school=school_b, name="Biology 2B", subject="Biology", teacher=c.bill
    )
    services.enrol_students(c.class_a, [c.sam, c.nora])
    services.enrol_students(c.class_b, [c.bea])
    for student in (c.sam, c.nina, c.bea):
        services.record_consent(student, granted=True)

    now = timezone.now()
    c.a_live = LiveSession.objects.create(
        classroom=c.class_a,
        title="Optics",
        scheduled_start=now - timedelta(minutes=5),
        status=SessionStatus.LIVE,
        started_at=now - timedelta(minutes=5),
    )
    c.a_scheduled = LiveSession.objects.create(
        classroom=c.class_a, title="Waves", scheduled_start=now + timedelta(days=1)
    )
    c.a_ended = LiveSession.objects.create(
        classroom=c.class_a,
        title="Mechanics",
        scheduled_start=now - timedelta(days=1),
        status=SessionStatus.ENDED,
        started_at=now - timedelta(days=1),
        ended_at=now - timedelta(days=1) + timedelta(minutes=45),
    )
    c.b_live = LiveSession.objects.create(
        classroom=c.class_b,
        title="Cells",
        scheduled_start=now - timedelta(minutes=5),
        status=SessionStatus.LIVE,
        started_at=now - timedelta(minutes=5),
    )
    return c


@pytest.fixture
def cast(db):
    """Build the cast outside any school scope (as a platform operator would)."""
    with scopes_disabled():
        return _make_cast()


@pytest.fixture
def transactional_cast(transactional_db):
    """The same cast for tests that need committed data (live servers, WebSocket consumers, threads)."""
    with scopes_disabled():
        return _make_cast()


@pytest.fixture
def client_for(client):
    """`client_for(user)` returns the test client logged in as that user (None: anonymous)."""
    from django.test import Client

    def make(user):
        c = Client()
        if user is not None:
            c.force_login(user)
        return c

    return make
