"""The Django admin: operators see every school; a school admin sees, chooses from and edits only their own."""

import re
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from analytics.demo import seed_demo_samples
from analytics.lms.models import ApiKey, Delivery, LrsSettings, Webhook
from analytics.models import Alert, EmotionSample
from analytics.services import SampleRecord, ensure_participants, record_samples
from classes.admin_site import admin_object_id, has_uuid, school_of, school_path, site
from classes.models import Classroom, LiveSession, Role, SessionStatus, User

MODELS = sorted(site._registry, key=lambda m: m._meta.label)
MODEL_IDS = [m._meta.label for m in MODELS]
ADMINS = ("alice", "bob", "op")


@pytest.fixture
def full_cast(cast):
    """The cast plus at least one row of every registered model in both schools."""
    with scopes_disabled():
        b_ended = LiveSession.objects.create(
            classroom=cast.class_b,
            title="Genetics",
            scheduled_start=cast.a_ended.scheduled_start,
            status=SessionStatus.ENDED,
            started_at=cast.a_ended.started_at,
            ended_at=cast.a_ended.ended_at,
        )
        for session in (cast.a_ended, b_ended):
            assert seed_demo_samples(session) > 0
            (participant,) = ensure_participants(
                session.pk, [1], source="live_call", seen_at=session.started_at
            ).values()
            record_samples(
                [SampleRecord(session.pk, None, session.started_at, 1, participant_id=participant.pk)]
            )
            Alert.objects.create(
                session=session, kind="class_drop", message="drop", raised_at=session.started_at
            )
        for school in (cast.school_a, cast.school_b):
            ApiKey.issue(school, f"LMS of {school.name}", "read")
            hook = Webhook.objects.create(
                school=school, url="https://lms.example.org/hook", events=["session.ended"]
            )
            Delivery.objects.create(school=hook.school, webhook=hook, event="session.ended", payload={})
            LrsSettings.objects.create(
                school=school,
                endpoint="https://lrs.example.org/xAPI/",
                key="k",
                platform_url="https://fm.example",
            )
    cast.b_ended = b_ended
    return cast


def _changelist(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _add(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")


def _change(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[admin_object_id(obj)])


def test_every_model_of_classes_analytics_and_the_api_is_registered():
    labels = set(MODEL_IDS)
    for label in (
        "classes.School",
        "classes.User",
        "classes.Classroom",
        "classes.Enrolment",
        "classes.LiveSession",
        "classes.ConsentPolicy",
        "classes.Consent",
        "analytics.EmotionSample",
        "analytics.Alert",
        "analytics.StudentMinute",
        "analytics.SessionMinute",
        "analytics.StudentSession",
        "analytics.CallParticipant",
        "analytics.ParticipantMinute",
        "lms.ApiKey",
        "lms.Webhook",
        "lms.Delivery",
    ):
        assert label in labels


@pytest.mark.parametrize("who", ADMINS)
@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
def test_changelist_and_add_page_answer_without_errors(full_cast, client_for, who, model):
    client = client_for(getattr(full_cast, who))
    assert client.get(_changelist(model)).status_code == 200
    add = client.get(_add(model))
    model_admin = site._registry[model]

    class Request:
        user = getattr(full_cast, who)

    expected = 200 if model_admin.has_add_permission(Request()) else 403
    assert add.status_code == expected


@pytest.mark.parametrize(("who", "school"), [("alice", "school_a"), ("bob", "school_b")])
@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
def test_school_admins_changelists_show_only_their_schools_rows(full_cast, client_for, who, school, model):
    response = client_for(getattr(full_cast, who)).get(_changelist(model))
    changelist = response.context["cl"]
    rows = list(changelist.result_list)
    assert rows, "every model has rows in both schools, so an empty list would hide a broken filter"
    own = getattr(full_cast, school)
    with scopes_disabled():
        assert {school_of(row).pk for row in rows} == {own.pk}
        # Beyond the first page too: the changelist's whole queryset holds no other school's row.
        assert not changelist.queryset.exclude(**{school_path(model): own.pk}).exists()


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
def test_operator_sees_both_schools(full_cast, client_for, model):
    changelist = client_for(full_cast.op).get(_changelist(model)).context["cl"]
    path = school_path(model)
    with scopes_disabled():
        for school in (full_cast.school_a, full_cast.school_b):
            assert changelist.queryset.filter(**{path: school.pk}).exists()


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
def test_a_school_admin_cannot_open_the_other_schools_object_by_pk(full_cast, client_for, model):
    with scopes_disabled():
        bobs = model._default_manager.filter(**{school_path(model): full_cast.school_b.pk}).first()
    alice = client_for(full_cast.alice)
    response = alice.get(_change(bobs))
    assert response.status_code != 200
    posted = alice.post(_change(bobs), {"name": "taken over"})
    assert posted.status_code != 200
    with scopes_disabled():
        bobs_again = type(bobs)._default_manager.get(pk=bobs.pk)
        assert getattr(bobs_again, "name", None) != "taken over"


def test_bobs_user_and_password_pages_are_closed_to_alice(full_cast, client_for):
    alice = client_for(full_cast.alice)
    assert alice.get(_change(full_cast.bill)).status_code != 200
    url = reverse("admin:auth_user_password_change", args=[full_cast.bill.uuid])
    assert alice.get(url).status_code != 200
    assert alice.post(url, {"password1": "x-new-pass-123", "password2": "x-new-pass-123"}).status_code != 200
    full_cast.bill.refresh_from_db()
    assert full_cast.bill.check_password(full_cast.password)


def test_choices_on_a_school_admins_forms_come_from_their_school_only(full_cast, client_for):
    alice = client_for(full_cast.alice)
    classroom_form = alice.get(_add(Classroom)).content.decode()
    assert "Tom Alpha" in classroom_form and "Bill Beta" not in classroom_form
    assert 'name="school"' not in classroom_form
    enrolment_form = alice.get(reverse("admin:classes_enrolment_add")).content.decode()
    assert (
        "Sam Alpha" in enrolment_form and "Bea Beta" not in enrolment_form and "Biology" not in enrolment_form
    )
    session_form = alice.get(reverse("admin:classes_livesession_add")).content.decode()
    assert "Physics 1A" in session_form and "Biology 2B" not in session_form
    school_list = alice.get(reverse("admin:classes_school_changelist")).content.decode()
    assert "Alpha Academy" in school_list and "Beta School" not in school_list


def test_a_school_admin_creates_a_class_in_their_school_and_cannot_pick_another_schools_teacher(
    full_cast, client_for
):
    alice = client_for(full_cast.alice)
    refused = alice.post(
        _add(Classroom),
        {
            "name": "Sneaky",
            "teacher": full_cast.bill.uuid,
            "school": full_cast.school_b.uuid,
        },
    )
    assert refused.status_code == 200  # the form comes back with an error
    created = alice.post(
        _add(Classroom),
        {
            "name": "Chemistry",
            "teacher": full_cast.tom.uuid,
            "school": full_cast.school_b.pk,
        },
    )
    assert created.status_code == 302
    with scopes_disabled():
        assert not Classroom.objects.filter(name="Sneaky").exists()
        assert Classroom.objects.get(name="Chemistry").school == full_cast.school_a


def test_a_school_admin_cannot_escalate_through_the_user_form(full_cast, client_for):
    alice = client_for(full_cast.alice)
    page = alice.get(_change(full_cast.tom)).content.decode()
    for field in ("is_superuser", "is_staff", "user_permissions", "groups", 'name="school"'):
        assert field not in page
    response = alice.post(
        _change(full_cast.tom),
        {
            "username": "tom",
            "first_name": "Tom",
            "last_name": "Alpha",
            "email": "tom@example.org",
            "role": Role.TEACHER,
            "lms_id": "",
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "school": full_cast.school_b.pk,
        },
    )
    assert response.status_code == 302
    full_cast.tom.refresh_from_db()
    assert not full_cast.tom.is_staff and not full_cast.tom.is_superuser
    assert full_cast.tom.school == full_cast.school_a


def test_a_school_admin_adds_a_user_into_their_school(full_cast, client_for):
    response = client_for(full_cast.alice).post(
        _add(User),
        {
            "username": "newteacher",  # not a field for school admins: ignored, the username is generated
            "usable_password": "true",
            "password1": "a-long-new-pass-2026",
            "password2": "a-long-new-pass-2026",
            "role": Role.TEACHER,
            "first_name": "New",
            "last_name": "Teacher",
            "email": "newteacher@example.org",
            "is_superuser": "on",
            "school": full_cast.school_b.pk,
        },
    )
    assert response.status_code == 302, response.content[:2000]
    created = User.objects.get(email="newteacher@example.org")
    assert created.school == full_cast.school_a and not created.is_superuser and not created.is_staff
    assert re.fullmatch(r"newteacher\.[a-z2-9]{4}", created.username)
    assert (
        response["Location"] == reverse("admin:classes_user_changelist")
        or str(created.uuid) in response["Location"]
    )


def test_school_admins_cannot_add_or_delete_schools_but_may_edit_their_own(full_cast, client_for):
    alice = client_for(full_cast.alice)
    assert alice.get(reverse("admin:classes_school_add")).status_code == 403
    school_a = full_cast.school_a
    assert alice.get(reverse("admin:classes_school_delete", args=[school_a.uuid])).status_code == 403
    bad = alice.post(
        _change(school_a),
        {"name": "Alpha", "lms_id": "", "retention_days": 90, "aggregate_retention_days": 30},
    )
    assert bad.status_code == 200 and "at least as long as raw samples" in bad.content.decode()
    ok = alice.post(
        _change(school_a),
        {"name": "Alpha Academy", "lms_id": "", "retention_days": 90, "aggregate_retention_days": 90},
    )
    assert ok.status_code == 302
    school_a.refresh_from_db()
    assert school_a.retention_days == 90 and school_a.slug == "alpha"


def test_emotion_samples_are_read_only(full_cast, client_for):
    alice = client_for(full_cast.alice)
    with scopes_disabled():
        sample = EmotionSample.objects.filter(session=full_cast.a_ended).first()
        emotion = sample.emotion
    assert alice.get(_change(sample)).status_code == 200  # view only
    page = alice.get(_change(sample)).content.decode()
    assert 'name="emotion"' not in page
    # Its session is a link by the session's UUID, which opens the session's page.
    assert _change(full_cast.a_ended) in page and alice.get(_change(full_cast.a_ended)).status_code == 200
    assert (
        alice.post(_change(sample), {"emotion": "angry" if emotion != "angry" else "happy"}).status_code
        == 403
    )
    delete = reverse("admin:analytics_emotionsample_delete", args=[admin_object_id(sample)])
    assert alice.get(delete).status_code == 403
    sample.refresh_from_db()
    assert sample.emotion == emotion


def test_teachers_and_students_and_non_staff_admins_are_kept_out(full_cast, client_for):
    for who in ("tom", "sam"):
        response = client_for(getattr(full_cast, who)).get("/admin/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    with scopes_disabled():
        full_cast.alice.is_staff = False
        full_cast.alice.save()
    assert client_for(full_cast.alice).get("/admin/").status_code == 302


def test_end_session_action_goes_through_the_state_machine(full_cast, client_for):
    response = client_for(full_cast.alice).post(
        reverse("admin:classes_livesession_changelist"),
        {"action": "end_live_sessions", "_selected_action": [full_cast.a_live.uuid, full_cast.b_live.uuid]},
    )
    assert response.status_code == 302
    full_cast.a_live.refresh_from_db()
    full_cast.b_live.refresh_from_db()
    assert full_cast.a_live.status == SessionStatus.ENDED and full_cast.a_live.ended_at is not None
    assert full_cast.b_live.status == SessionStatus.LIVE
    assert full_cast.a_live.ended_at - full_cast.a_live.started_at > timedelta(0)


# --- no "does it exist in another school?" answers, no sequential ids -----------------------------------------


@pytest.mark.parametrize("model", [Classroom, LiveSession, User, EmotionSample], ids=lambda m: m.__name__)
def test_view_on_site_answers_alike_for_another_schools_object_and_a_missing_one(
    full_cast, client_for, model
):
    from django.contrib.contenttypes.models import ContentType

    with scopes_disabled():
        bobs = model._default_manager.filter(**{school_path(model): full_cast.school_b.pk}).first()
        alices = model._default_manager.filter(**{school_path(model): full_cast.school_a.pk}).first()
        missing_pk = model._default_manager.order_by("-pk").first().pk + 1000
    content_type = ContentType.objects.get_for_model(model).pk
    alice = client_for(full_cast.alice)

    def answer(object_id):
        path = f"/admin/r/{content_type}/{object_id}/"
        response = alice.get(path)
        # The language menu sends the user back to the page they asked for: that echoes the path, nothing more.
        page = response.content.decode().replace(
            f'name="next" value="{path}"', 'name="next" value="<this page>"'
        )
        return response.status_code, re.sub(r"[A-Za-z0-9]{64}", "<csrf token>", page)

    ids = [bobs.pk, missing_pk, admin_object_id(bobs), uuid.uuid4(), admin_object_id(alices)]
    answers = [answer(object_id) for object_id in ids]
    assert all(a == answers[0] for a in answers), answers
    assert answers[0][0] == 404


def test_admin_urls_and_choices_use_uuids_not_sequential_ids(full_cast, client_for):
    alice = client_for(full_cast.alice)
    changelist = alice.get(_changelist(Classroom)).content.decode()
    assert _change(full_cast.class_a) in changelist and str(full_cast.class_a.uuid) in changelist
    assert f"/classroom/{full_cast.class_a.pk}/" not in changelist
    assert f'value="{full_cast.class_a.uuid}"' in changelist  # the action checkbox
    # The pk is not an address any more, the UUID is.
    by_pk = reverse("admin:classes_classroom_change", args=[full_cast.class_a.pk])
    assert alice.get(by_pk).status_code == 302  # "doesn't exist", like any unknown id
    form = alice.get(_change(full_cast.class_a)).content.decode()
    assert f'<option value="{full_cast.tom.uuid}" selected>' in form
    assert f'<option value="{full_cast.tom.pk}"' not in form
    assert reverse("admin:classes_classroom_history", args=[full_cast.class_a.uuid]) in form
    assert reverse("admin:classes_classroom_delete", args=[full_cast.class_a.uuid]) in form
    # The class's students are listed as links to their pages (by UUID), not as an inline form of pks.
    assert reverse("admin:classes_user_change", args=[full_cast.sam.uuid]) in form
    assert reverse("admin:classes_user_change", args=[full_cast.nina.uuid]) not in form  # not enrolled
    saved = alice.post(
        _change(full_cast.class_a),
        {
            "name": "Physics 1A",
            "subject": "Optics",
            "teacher": full_cast.tom.uuid,
            "lms_id": "",
            "_continue": "1",
        },
    )
    assert saved.status_code == 302 and saved["Location"] == _change(full_cast.class_a)
    history = alice.get(reverse("admin:classes_classroom_history", args=[full_cast.class_a.uuid]))
    assert history.status_code == 200 and "Changed" in history.content.decode()
    from django.contrib.admin.models import LogEntry

    assert LogEntry.objects.latest("action_time").object_id == str(full_cast.class_a.uuid)


def test_a_school_admin_never_chooses_a_username_so_none_tells_what_other_schools_use(full_cast, client_for):
    alice = client_for(full_cast.alice)
    assert 'name="username"' not in alice.get(_add(User)).content.decode()
    assert 'name="username"' not in alice.get(_change(full_cast.tom)).content.decode()

    def add(email):
        return alice.post(
            _add(User),
            {
                "usable_password": "false",
                "role": Role.STUDENT,
                "first_name": "X",
                "last_name": "Y",
                "email": email,
            },
        )

    taken_elsewhere, free = add("bea@example.net"), add("zed@example.net")  # "bea" is school B's username
    assert taken_elsewhere.status_code == free.status_code == 302
    with scopes_disabled():
        names = [User.objects.get(email=e).username for e in ("bea@example.net", "zed@example.net")]
    assert re.fullmatch(r"bea\.[a-z2-9]{4}", names[0]) and re.fullmatch(r"zed\.[a-z2-9]{4}", names[1])


ADMIN_ID = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16})$")
OBJECT_HREF = re.compile(r'href="/admin/[a-z_]+/[a-z_]+/([^/"]+)/(?:change|delete|history)/')


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
def test_no_admin_page_shows_a_sequential_id(full_cast, client_for, model):
    """Changelist and change page of each model: every object link and selection box carries a UUID or an
    admin_ids token, and no hidden input carries a pk (inline forms would)."""
    with scopes_disabled():
        alices = model._default_manager.filter(**{school_path(model): full_cast.school_a.pk}).first()
    alice = client_for(full_cast.alice)
    pages = [alice.get(_changelist(model)).content.decode()]
    if alices is not None:
        pages.append(alice.get(_change(alices)).content.decode())
    for page in pages:
        for object_id in OBJECT_HREF.findall(page):
            assert ADMIN_ID.match(object_id), object_id
        for value in re.findall(r'name="_selected_action" value="([^"]*)"', page):
            assert ADMIN_ID.match(value), value
        assert not re.search(r'<input type="hidden" name="[a-z_]+-\d+-(id|classroom)"', page)
    if alices is not None and not has_uuid(model):
        by_pk = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[alices.pk])
        assert alice.get(by_pk).status_code == 302  # a bare pk is no address: "doesn't exist"


def test_admin_ids_are_a_keyed_permutation_of_the_pk_per_model():
    from classes import admin_ids

    tokens = {admin_ids.encode("analytics.emotionsample", pk) for pk in range(1, 2001)}
    assert len(tokens) == 2000 and all(re.fullmatch(r"[0-9a-f]{16}", t) for t in tokens)
    assert all(admin_ids.decode("analytics.emotionsample", admin_ids.encode("analytics.emotionsample", pk)) == pk
               for pk in (0, 1, 2, 99, 2**31, 2**64 - 1))  # fmt: skip
    # Neighbouring pks give unrelated tokens, and the same pk differs between models.
    assert (
        admin_ids.encode("analytics.emotionsample", 7)[:8]
        != admin_ids.encode("analytics.emotionsample", 8)[:8]
    )
    assert admin_ids.encode("analytics.emotionsample", 7) != admin_ids.encode("analytics.alert", 7)
    assert admin_ids.decode("analytics.emotionsample", "7") is None
    assert admin_ids.decode("analytics.emotionsample", "../../etc/passwd") is None
