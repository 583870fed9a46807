"""The statements of a lesson: what is in them, that the same event always makes the same statement, and that
they are valid xAPI (our validator, ralph's pydantic models and, in test_delivery, a real LRS)."""

import uuid
from datetime import timedelta

import pytest
from django_scopes import scopes_disabled

from analytics.lms.xapi import statements as st
from analytics.lms.xapi import vocabulary as v
from analytics.lms.xapi.facts import lesson_facts
from analytics.lms.xapi.validation import StatementError, validate
from analytics.models import EmotionSample
from classes.tenancy import school_scope

from .conftest import LMS, PLATFORM, connect, end
from .lrs import ralph_problems


def build(session, lrs):
    with school_scope(session.classroom.school_id):
        from classes.models import LiveSession

        fresh = LiveSession.objects.select_related("classroom__school", "classroom__teacher").get(
            pk=session.pk
        )
        return st.lesson_statements(lesson_facts(fresh), lrs)


def by_kind(built):
    found = {}
    for kind, statement in built:
        found.setdefault(kind, []).append(statement)
    return found


def test_a_lesson_makes_joined_and_left_per_stay_attended_per_student_and_one_class_summary(cast, lesson):
    lrs = connect(cast.school_a, "https://lrs.example/xAPI/", "alpha")
    end(lesson)
    kinds = by_kind(build(lesson, lrs))
    assert {k: len(v_) for k, v_ in kinds.items()} == {"joined": 3, "left": 3, "attended": 2, "terminated": 1}

    sam = {"objectType": "Agent", "account": {"homePage": PLATFORM, "name": str(cast.sam.uuid)}}
    joined = [s for s in kinds["joined"] if s["actor"] == sam]
    assert [s["timestamp"] for s in joined] == [
        st.timestamp(cast.lesson_start),
        st.timestamp(cast.lesson_start + timedelta(seconds=120)),
    ]
    left = [s for s in kinds["left"] if s["actor"] == sam]
    assert [s["timestamp"] for s in left] == [
        st.timestamp(cast.lesson_start + timedelta(seconds=29)),
        st.timestamp(cast.lesson_start + timedelta(seconds=149)),
    ]
    assert [s["result"]["duration"] for s in left] == ["PT30S", "PT30S"]  # 30 frames a second apart

    attended = {s["actor"]["account"]["name"]: s for s in kinds["attended"]}
    sams = attended[str(cast.sam.uuid)]
    assert sams["verb"] == {"id": "http://adlnet.gov/expapi/verbs/attended", "display": {"en-US": "attended"}}
    assert sams["result"] == {
        "duration": "PT1M",
        "completion": True,
        "extensions": {v.PRESENCE_SHARE: 0.75},  # one frame in four without a face
    }
    assert sams["timestamp"] == left[-1]["timestamp"]
    assert attended[str(cast.nina.uuid)]["result"]["extensions"] == {v.PRESENCE_SHARE: 1.0}

    (summary,) = kinds["terminated"]
    tom = {"objectType": "Agent", "account": {"homePage": PLATFORM, "name": str(cast.tom.uuid)}}
    assert summary["actor"] == tom
    assert summary["timestamp"] == st.timestamp(lesson.ended_at)
    assert summary["result"]["extensions"] == {
        v.STUDENTS_ENROLLED: 3,
        v.STUDENTS_ATTENDED: 2,
        v.PRESENCE_SHARE: 0.875,  # the mean of 0.75 and 1.0
    }
    assert summary["result"]["duration"] == st.duration(lesson.ended_at - lesson.started_at)


def test_every_statement_carries_the_session_the_profile_and_the_lesson(cast, lesson):
    lrs = connect(cast.school_a, "https://lrs.example/xAPI/", "alpha")
    end(lesson)
    for kind, statement in build(lesson, lrs):
        context = statement["context"]
        assert context["registration"] == str(lesson.uuid)
        assert context["extensions"][v.SESSION_ID] == str(lesson.uuid)
        assert context["contextActivities"]["category"] == [
            {
                "objectType": "Activity",
                "id": "https://w3id.org/xapi/virtual-classroom",
                "definition": {"type": "http://adlnet.gov/expapi/activities/profile"},
            }
        ]
        assert "parent" not in context["contextActivities"]  # class A has no LMS id
        assert statement["object"] == {
            "objectType": "Activity",
            "id": f"{PLATFORM}/xapi/activities/lessons/{lesson.uuid}",
            "definition": {
                "type": "https://w3id.org/xapi/virtual-classroom/activity-types/virtual-classroom",
                "name": {"und": "Optics"},
            },
        }
        assert (v.PLANNED_DURATION in context["extensions"]) == (kind in ("joined", "terminated"))
        if kind != "terminated":
            assert context["instructor"]["account"]["name"] == str(cast.tom.uuid)


def test_statement_ids_are_stable_uuid5s_of_the_event(cast, lesson):
    lrs = connect(cast.school_a, "https://lrs.example/xAPI/", "alpha")
    end(lesson)
    first, again = build(lesson, lrs), build(lesson, lrs)
    assert first == again  # the same lesson always makes the very same statements
    ids = [s["id"] for _, s in first]
    assert len(set(ids)) == len(ids) == 9
    namespace = uuid.UUID("5b7f3a52-8d0e-4f57-9a41-0c6f5b6ad2e1")
    assert str(uuid.uuid5(namespace, f"{lesson.uuid}/terminated")) in ids
    assert str(uuid.uuid5(namespace, f"{lesson.uuid}/{cast.sam.uuid}/joined/1")) in ids
    assert all(uuid.UUID(i).version == 5 for i in ids)


def test_lms_ids_identify_people_and_the_parent_course_under_the_lms(cast, lesson):
    with scopes_disabled():
        cast.class_a.lms_id = "PHY-1A"
        cast.class_a.save()
        cast.sam.lms_id = "s-100"
        cast.sam.save()
    lrs = connect(cast.school_a, "https://lrs.example/xAPI/", "alpha", lms_url=LMS)
    end(lesson)
    built = build(lesson, lrs)
    actors = {s["actor"]["account"]["name"]: s["actor"]["account"]["homePage"] for _, s in built}
    assert actors["s-100"] == LMS
    assert actors[str(cast.nina.uuid)] == PLATFORM  # no LMS id: fermonitor's account
    for _, statement in built:
        assert statement["context"]["contextActivities"]["parent"] == [
            {
                "objectType": "Activity",
                "id": f"{PLATFORM}/xapi/activities/courses/{cast.school_a.uuid}/PHY-1A",
                "definition": {
                    "type": "http://adlnet.gov/expapi/activities/course",
                    "name": {"und": "Physics 1A"},
                    "extensions": {v.LMS_ID: "PHY-1A"},
                },
            }
        ]
        assert "mbox" not in statement["actor"]

    with scopes_disabled():
        cast.class_a.lms_id = "https://moodle.alpha.example/course/view.php?id=7"
        cast.class_a.save()
    parent = build(lesson, lrs)[0][1]["context"]["contextActivities"]["parent"][0]
    assert parent["id"] == "https://moodle.alpha.example/course/view.php?id=7"  # the LMS's own IRI


def test_email_identifies_people_only_when_the_school_chose_it(cast, lesson):
    lrs = connect(cast.school_a, "https://lrs.example/xAPI/", "alpha", actor_identification="email")
    with scopes_disabled():
        cast.nina.email = ""
        cast.nina.save()
    end(lesson)
    actors = [s["actor"] for kind, s in build(lesson, lrs) if kind == "attended"]
    assert {"objectType": "Agent", "mbox": "mailto:sam@example.org"} in actors
    assert {"objectType": "Agent", "account": {"homePage": PLATFORM, "name": str(cast.nina.uuid)}} in actors


@pytest.mark.parametrize(
    ("presence_only", "send_emotions", "expected"),
    [(False, False, False), (True, True, False), (True, False, False), (False, True, True)],
    ids=["default", "presence-only-with-the-flag-forced", "presence-only", "opted-in"],
)
def test_emotion_shares_only_when_enabled_and_not_presence_only(
    cast, lesson, presence_only, send_emotions, expected
):
    with scopes_disabled():
        cast.school_a.presence_only = presence_only
        cast.school_a.save()
    lrs = connect(cast.school_a, "https://lrs.example/xAPI/", "alpha", send_emotions=send_emotions)
    lrs.school.refresh_from_db()
    end(lesson)
    built = build(lesson, lrs)
    carrying = [s for _, s in built if v.EMOTION_SHARES in s.get("result", {}).get("extensions", {})]
    text = str(built)
    if not expected:
        assert carrying == [] and "happy" not in text and "sad" not in text
        return
    assert len(carrying) == 3  # two attended, one class summary
    nina = next(s for s in carrying if s["actor"].get("account", {}).get("name") == str(cast.nina.uuid))
    assert nina["result"]["extensions"][v.EMOTION_SHARES]["sad"] == 1.0
    summary = next(s for s in carrying if s["verb"]["id"].endswith("terminated"))
    assert sum(summary["result"]["extensions"][v.EMOTION_SHARES].values()) == pytest.approx(1.0, abs=1e-3)


def test_a_pause_longer_than_the_rejoin_gap_is_a_leave_and_a_new_join(cast, lesson, settings):
    lrs = connect(cast.school_a, "https://lrs.example/xAPI/", "alpha")
    end(lesson)
    settings.FERMONITOR_XAPI_REJOIN_GAP_SECONDS = 120  # sam's 90 s pause is now part of one stay
    kinds = by_kind(build(lesson, lrs))
    assert len(kinds["joined"]) == 2 and len(kinds["left"]) == 2
    sams = next(s for s in kinds["left"] if s["actor"]["account"]["name"] == str(cast.sam.uuid))
    assert sams["result"]["duration"] == "PT2M30S"


def test_when_raw_samples_are_gone_the_minute_rollups_stand_in(cast, lesson):
    lrs = connect(cast.school_a, "https://lrs.example/xAPI/", "alpha")
    end(lesson)
    with scopes_disabled():
        EmotionSample.objects.filter(session=lesson).delete()  # retention removed them; roll-ups remain
    kinds = by_kind(build(lesson, lrs))
    attended = {s["actor"]["account"]["name"]: s for s in kinds["attended"]}
    assert attended[str(cast.sam.uuid)]["result"]["extensions"][v.PRESENCE_SHARE] == 0.75
    assert attended[str(cast.nina.uuid)]["result"]["extensions"][v.PRESENCE_SHARE] == 1.0
    for statement in kinds["joined"]:  # minute resolution
        assert statement["timestamp"].endswith(":00.000Z")


def test_every_kind_is_valid_for_our_validator_and_for_ralphs_xapi_models(cast, lesson):
    with scopes_disabled():
        cast.class_a.lms_id = "PHY-1A"
        cast.class_a.save()
    lrs = connect(cast.school_a, "https://lrs.example/xAPI/", "alpha", send_emotions=True, lms_url=LMS)
    end(lesson)
    built = [s for _, s in build(lesson, lrs)]
    built.append(st.test_statement(lrs, cast.alice, lesson.ended_at, str(uuid.uuid4())))
    for statement in built:
        assert validate(statement) is statement
    assert ralph_problems(built) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda s: s.pop("actor"), "actor: is required"),
        (lambda s: s["actor"].update(mbox="mailto:a@b.org"), "exactly one identifier"),
        (lambda s: s["actor"].pop("account"), "exactly one identifier"),
        (lambda s: s.update(id="not-a-uuid"), "id: must be a lowercase RFC 4122 UUID"),
        (lambda s: s.update(timestamp="2026-01-01T10:00:00"), "must carry a time zone"),
        (lambda s: s.update(mood="happy"), "statement.mood: is not an xAPI property"),
        (lambda s: s["verb"].update(id="attended"), "verb.id: must be an absolute IRI"),
        (lambda s: s["result"].update(duration="47 minutes"), "must be an ISO 8601 duration"),
        (lambda s: s["result"]["extensions"].update(presence=1), "must be an absolute IRI, not 'presence'"),
        (lambda s: s["context"].update(registration="abc"), "context.registration"),
        (lambda s: s["object"]["definition"].update(name={"english": "x"}), "not an RFC 5646 language tag"),
        (lambda s: s["result"].update(score={"scaled": 1.5}), "between -1 and 1"),
    ],
)
def test_the_validator_names_what_is_wrong(cast, lesson, change, problem):
    lrs = connect(cast.school_a, "https://lrs.example/xAPI/", "alpha")
    end(lesson)
    statement = next(s for kind, s in build(lesson, lrs) if kind == "attended")
    change(statement)
    with pytest.raises(StatementError) as error:
        validate(statement)
    assert problem in str(error.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "PT0S"),
        (0.004, "PT0S"),
        (1.5, "PT1.5S"),
        (59.999, "PT1M"),
        (2832.25, "PT47M12.25S"),
        (7260, "PT2H1M"),
    ],
)
def test_durations_are_iso_8601_with_hundredths(seconds, text):
    assert st.duration(seconds) == text
