"""Example payloads for the OpenAPI document (Swagger UI and ReDoc show them next to every endpoint)."""

from .schema import example

CLASS_UUID = "3f1c2a9e-5b7d-4c1e-9a4f-2d8e6b0c7a11"
TEACHER_UUID = "8a2b4c6d-1e3f-4a5b-8c7d-9e0f1a2b3c4d"
STUDENT_UUID = "c0ffee00-1234-4abc-8def-0123456789ab"
SESSION_UUID = "5e55a0e1-7c2d-4b8a-9f3e-6d1c0b2a4e77"

CLASS = {
    "uuid": CLASS_UUID,
    "name": "Physics 1A",
    "subject": "Physics",
    "teacher": TEACHER_UUID,
    "teacher_name": "Tom Alpha",
    "lms_id": "moodle-course-42",
    "student_count": 24,
    "created_at": "2026-09-01T08:00:00Z",
}
CLASS_WRITE = {
    "name": "Physics 1A",
    "subject": "Physics",
    "teacher": TEACHER_UUID,
    "lms_id": "moodle-course-42",
}

STUDENT = {
    "uuid": STUDENT_UUID,
    "lms_id": "moodle-user-1001",
    "email": "sam@example.org",
    "first_name": "Sam",
    "last_name": "Alpha",
    "username": "sam",
    "is_active": True,
    "date_joined": "2026-09-01T08:00:00Z",
}
STUDENT_WRITE = {
    "lms_id": "moodle-user-1001",
    "email": "sam@example.org",
    "first_name": "Sam",
    "last_name": "Alpha",
}
TEACHER = {
    **STUDENT,
    "uuid": TEACHER_UUID,
    "lms_id": "moodle-user-7",
    "email": "tom@example.org",
    "username": "tom",
}
TEACHER_WRITE = {
    "lms_id": "moodle-user-7",
    "email": "tom@example.org",
    "first_name": "Tom",
    "last_name": "Alpha",
}

UPSERT_REQUEST = {
    "items": [
        {"lms_id": "moodle-user-1001", "email": "sam@example.org", "first_name": "Sam", "last_name": "Alpha"},
        {
            "lms_id": "moodle-user-1002",
            "email": "nina@example.org",
            "first_name": "Nina",
            "last_name": "Alpha",
        },
    ]
}
UPSERT_RESPONSE = {
    "created": 1,
    "updated": 0,
    "unchanged": 1,
    "results": [
        {"lms_id": "moodle-user-1001", "uuid": STUDENT_UUID, "result": "unchanged"},
        {"lms_id": "moodle-user-1002", "uuid": "0b5e7d3c-2a1f-4e6d-8c9b-7a6f5e4d3c2b", "result": "created"},
    ],
}
ROSTER_REQUEST = {"students": UPSERT_REQUEST["items"]}
ROSTER_RESPONSE = {**UPSERT_RESPONSE, "enrolled": 1, "unenrolled": 0, "already_enrolled": 1}

ENROLMENT = {
    "classroom": CLASS_UUID,
    "student": STUDENT_UUID,
    "student_lms_id": "moodle-user-1001",
    "student_name": "Sam Alpha",
    "enrolled_at": "2026-09-01T08:05:00Z",
}

SESSION = {
    "uuid": SESSION_UUID,
    "classroom": CLASS_UUID,
    "classroom_name": "Physics 1A",
    "title": "Optics",
    "lms_id": "moodle-event-311",
    "scheduled_start": "2026-10-05T09:00:00Z",
    "planned_minutes": 45,
    "status": "scheduled",
    "started_at": None,
    "ended_at": None,
    "frame_rate": 1.0,
    "no_face_alert_seconds": 30,
    "negative_alert_seconds": 60,
    "class_drop_threshold": 0.25,
    "created_at": "2026-09-20T12:00:00Z",
}
SESSION_WRITE = {
    "classroom": CLASS_UUID,
    "title": "Optics",
    "lms_id": "moodle-event-311",
    "scheduled_start": "2026-10-05T09:00:00Z",
    "planned_minutes": 45,
}
SESSION_LIVE = {**SESSION, "status": "live", "started_at": "2026-10-05T09:01:12Z"}

SHARES = {
    "angry": 0.02,
    "disgust": 0.0,
    "fear": 0.03,
    "happy": 0.31,
    "sad": 0.06,
    "surprise": 0.08,
    "neutral": 0.5,
}
SESSION_INFO = {
    "uuid": SESSION_UUID,
    "title": "Optics",
    "classroom": "Physics 1A",
    "classroom_uuid": CLASS_UUID,
    "teacher": "Tom Alpha",
    "status": "ended",
    "scheduled_start": "2026-10-05T09:00:00+00:00",
    "started_at": "2026-10-05T09:01:12+00:00",
    "ended_at": "2026-10-05T09:46:40+00:00",
}
EMOTIONS = {"distribution": SHARES, "dominant": "neutral", "negative_share": 0.11, "mood": 0.2}
SUMMARY = {
    "session": SESSION_INFO,
    "presence_only": False,
    "overall": {
        "minutes": 45,
        "samples": 52110,
        "students_enrolled": 24,
        "students_seen": 23,
        "participants_seen": 0,
        "presence_share": 0.93,
        **EMOTIONS,
    },
    "timeline": [
        {
            "minute": "2026-10-05T09:01:00+00:00",
            "students_streaming": 22,
            "students_present": 21,
            "participants_streaming": 0,
            "participants_present": 0,
            "presence_share": 0.95,
            "shares": SHARES,
            "mean_probabilities": SHARES,
            "mood": 0.21,
        }
    ],
    "students": [
        {
            "uuid": STUDENT_UUID,
            "name": "Sam Alpha",
            "enrolled": True,
            "minutes_seen": 45,
            "minutes_present": 44,
            "presence_share": 0.97,
            **EMOTIONS,
        }
    ],
    "participants": [],
    "alerts": [
        {
            "kind": "no_face",
            "label": "No face visible",
            "message": "Sam Alpha: no face for 30 s",
            "raised_at": "2026-10-05T09:20:31+00:00",
            "student": {"uuid": STUDENT_UUID, "name": "Sam Alpha"},
            "participant": None,
        }
    ],
    "moments": [
        {
            "minute": "2026-10-05T09:31:00+00:00",
            "index": 30,
            "kind": "mood_drop",
            "label": "Class mood fell by 0.22 (to -0.05)",
            "value": -0.22,
        }
    ],
}
HISTORY = {
    "student": {"uuid": STUDENT_UUID, "name": "Sam Alpha"},
    "presence_only": False,
    "sessions": [
        {**SESSION_INFO, "minutes_seen": 45, "minutes_present": 44, "presence_share": 0.98, **EMOTIONS}
    ],
    "totals": {
        "sessions_attended": 1,
        "sessions_held": 1,
        "attendance_rate": 1.0,
        "minutes_seen": 45,
        "minutes_present": 44,
        "presence_rate": 0.98,
        **EMOTIONS,
    },
    "trend": {
        "presence_per_session": None,
        "negative_share_per_session": None,
        "mood_per_session": None,
        "direction": "not enough sessions",
    },
}
SERIES = {
    "session": SESSION_INFO,
    "student": {"uuid": STUDENT_UUID, "name": "Sam Alpha"},
    "presence_only": False,
    "minutes": [
        {
            "minute": "2026-10-05T09:01:00+00:00",
            "samples": 60,
            "present_samples": 58,
            "presence_share": 0.97,
            "present": True,
            "shares": SHARES,
            "mean_probabilities": SHARES,
            "mood": 0.25,
            "class_mood": 0.21,
        }
    ],
    "totals": {"minutes_seen": 45, "minutes_present": 44, "presence_share": 0.97, **EMOTIONS},
}
SAMPLE = {
    "session": SESSION_UUID,
    "student": STUDENT_UUID,
    "student_lms_id": "moodle-user-1001",
    "captured_at": "2026-10-05T09:01:00.250000Z",
    "face_count": 1,
    "emotion": "neutral",
    "confidence": 0.62,
    "probabilities": {
        "angry": 0.01,
        "disgust": 0.0,
        "fear": 0.02,
        "happy": 0.2,
        "sad": 0.05,
        "surprise": 0.1,
        "neutral": 0.62,
    },
}
ME = {
    "school": {
        "uuid": "1d2c3b4a-5f6e-4d7c-8b9a-0f1e2d3c4b5a",
        "name": "Alpha Academy",
        "slug": "alpha",
        "lms_id": "",
        "presence_only": False,
        "retention_days": 180,
    },
    "key": {"name": "Moodle production", "prefix": "a1b2c3d4", "scope": "read_write"},
    "user": None,
}


def ok(name, value, status=200):
    return example(name, value, status=status)


def req(name, value):
    return example(name, value, request=True)
