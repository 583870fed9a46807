"""The live sockets' JSON encoder (orjson) sends the same text json.dumps did for every kind of message."""

import json
import math
import random
import time

from analytics.live import wire
from analytics.live.aggregation import AlertSettings, ClassView, StudentTracker

OLD = {"separators": (",", ":")}  # how the consumers encoded before


def _class_messages(presence_only: bool) -> list[dict]:
    rng = random.Random(3)
    settings = AlertSettings(presence_only=presence_only)
    view = ClassView(settings)
    now = time.time()
    trackers = [StudentTracker(i, f"Student {i:03d}", started_at=now - 60) for i in range(1, 30)]
    for tracker in trackers:
        for k in range(5):
            raw = [rng.random() for _ in range(7)]
            probabilities = tuple(v / sum(raw) for v in raw)
            best = max(range(7), key=probabilities.__getitem__)
            faces = rng.choice([0, 1, 1, 2])
            emotion = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")[best]
            tracker.observe(now - 5 + k + rng.random(), faces, emotion, probabilities[best], probabilities)
    updates = [t.public(now, settings) for t in trackers]
    view.merge("origin", updates, now)
    view.tick(now)
    return [{"type": "students", "students": updates}, view.snapshot(now)]


def test_every_live_message_encodes_to_the_text_json_dumps_gave():
    messages = [
        {
            "type": "hello",
            "session": "8f9c",
            "width": 320,
            "height": 240,
            "rate": 1.0,
            "presence_only": False,
        },
        {
            "type": "result",
            "n": 7,
            "faces": 1,
            "face": True,
            "next_in_ms": 912,
            "emotion": "happy",
            "confidence": 0.871,
        },
        {
            "type": "result",
            "n": 8,
            "faces": 0,
            "face": False,
            "next_in_ms": 0,
            "emotion": None,
            "confidence": None,
        },
        {
            "type": "error",
            "code": "too_fast",
            "message": "Frames arrive faster than the session's 1/s.",
            "next_in_ms": 3,
        },
        {
            "type": "alert",
            "alert": {"id": 4, "kind": "no_face", "message": "x: no face", "at": 1.5e9, "student_id": 2},
        },
        {"type": "status", "status": "ended"},
        *_class_messages(presence_only=False),
        *_class_messages(presence_only=True),
    ]
    for message in messages:
        assert wire.dumps(message) == json.dumps(message, **OLD), message["type"]


def test_names_outside_ascii_arrive_as_the_same_json_and_nan_as_null():
    message = {"type": "students", "students": [{"id": 1, "name": "Zoë Ørsted 李"}]}
    assert json.loads(wire.dumps(message)) == message
    assert json.loads(wire.dumps({"confidence": math.nan})) == {"confidence": None}
