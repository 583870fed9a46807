"""The live aggregation rules (analytics.live.aggregation) with a fake clock: alerts after N/M seconds, once per episode."""

import pytest

from analytics.live.aggregation import AlertSettings, ClassView, StudentTracker, valence

HAPPY = (0.0, 0.0, 0.0, 0.9, 0.0, 0.05, 0.05)
SAD = (0.05, 0.0, 0.05, 0.0, 0.85, 0.0, 0.05)
SETTINGS = AlertSettings(no_face_seconds=30, negative_seconds=60, class_drop_threshold=0.25, frame_rate=1.0)


def feed(tracker, start, seconds, face_count=1, emotion="happy", probabilities=HAPPY, settings=SETTINGS):
    """One frame per second from `start` for `seconds` seconds; returns every alert raised on the way."""
    alerts = []
    for t in range(start, start + seconds):
        if face_count:
            tracker.observe(t, face_count, emotion, 0.9, probabilities)
        else:
            tracker.observe(t, 0)
        alerts += tracker.due_alerts(t, settings)
    return alerts


def test_no_face_alert_fires_after_n_seconds_and_once_per_episode():
    tracker = StudentTracker(1, "Sam", started_at=0)
    assert feed(tracker, 0, 10) == []
    # Face gone from t=10: the alert comes when 30 s have passed since the last face (t=9), not before.
    alerts = feed(tracker, 10, 29, face_count=0)
    assert alerts == []
    alerts = feed(tracker, 39, 30, face_count=0)
    assert [a.kind for a in alerts] == ["no_face"]
    assert alerts[0].at == 39 and alerts[0].student_id == 1 and "Sam" in alerts[0].message
    # The face comes back, then goes again: a new episode, a new alert.
    assert feed(tracker, 69, 5) == []
    again = feed(tracker, 74, 40, face_count=0)
    assert [a.kind for a in again] == ["no_face"]


def test_no_face_from_the_start_counts_from_the_stream_start():
    tracker = StudentTracker(1, "Sam", started_at=100)
    assert feed(tracker, 100, 29, face_count=0) == []
    assert [a.kind for a in feed(tracker, 129, 2, face_count=0)] == ["no_face"]


def test_negative_alert_after_m_seconds_of_persisting_negative_emotion():
    tracker = StudentTracker(2, "Nora", started_at=0)
    assert feed(tracker, 0, 60, emotion="sad", probabilities=SAD) == []  # t=0..59: 59 s of sadness
    alerts = feed(tracker, 60, 30, emotion="sad", probabilities=SAD)
    assert [a.kind for a in alerts] == ["negative"]
    assert alerts[0].at == 60


def test_a_happy_frame_ends_the_negative_episode_and_restarts_the_clock():
    tracker = StudentTracker(2, "Nora", started_at=0)
    feed(tracker, 0, 50, emotion="sad", probabilities=SAD)
    feed(tracker, 50, 1)  # one happy frame
    assert feed(tracker, 51, 59, emotion="sad", probabilities=SAD) == []
    alerts = feed(tracker, 110, 2, emotion="sad", probabilities=SAD)
    assert [(a.kind, a.at) for a in alerts] == [("negative", 111)]  # 60 s after the sadness resumed at 51


def test_frames_without_a_face_neither_start_nor_end_a_negative_episode():
    tracker = StudentTracker(2, "Nora", started_at=0)
    settings = AlertSettings(no_face_seconds=0, negative_seconds=60)  # no-face alerts off
    feed(tracker, 0, 40, emotion="sad", probabilities=SAD, settings=settings)
    assert feed(tracker, 40, 10, face_count=0, settings=settings) == []
    alerts = feed(tracker, 50, 15, emotion="sad", probabilities=SAD, settings=settings)
    assert [a.kind for a in alerts] == ["negative"] and alerts[0].at == 60


def test_presence_only_never_raises_negative_alerts_nor_exposes_emotions():
    settings = AlertSettings(presence_only=True)
    tracker = StudentTracker(3, "Sam", started_at=0)
    alerts = feed(tracker, 0, 200, emotion="", probabilities=None, settings=settings)
    assert alerts == []
    public = tracker.public(200, settings)
    assert "emotion" not in public and "confidence" not in public and "valence" not in public
    view = ClassView(settings)
    view.merge("p1", [public], 200)
    snapshot = view.snapshot(200)
    assert snapshot["distribution"] is None
    assert snapshot["index"] == 1.0  # share of streaming students with a face


def test_streaming_goes_stale_after_missing_frames_and_disconnect_stops_it():
    tracker = StudentTracker(1, "Sam", started_at=0)
    tracker.observe(10, 1, "happy", 0.9, HAPPY)
    assert tracker.streaming(12, SETTINGS)
    assert not tracker.streaming(14, SETTINGS)  # 3 frame intervals at 1/s, at least 3 s
    tracker.observe(14, 1, "happy", 0.9, HAPPY)
    tracker.connected = False
    assert not tracker.streaming(14, SETTINGS)
    assert tracker.due_alerts(1000, SETTINGS) == []


def _class(n, now, probabilities=HAPPY, emotion="happy", face_count=1):
    return [
        {
            "id": i,
            "name": f"S{i}",
            "connected": True,
            "streaming": True,
            "faces": face_count,
            "emotion": emotion if face_count else "",
            "valence": valence(probabilities) if face_count else None,
            "last_seen": now,
        }
        for i in range(n)
    ]


def test_class_drop_alerts_once_when_the_index_falls_within_a_minute():
    view = ClassView(SETTINGS)
    alerts = []
    for t in range(0, 30):
        view.merge("p1", _class(5, t), t)
        alerts += view.tick(t)
    assert alerts == [] and view.index() == pytest.approx(valence(HAPPY), abs=1e-3)
    for t in range(30, 60):
        view.merge("p1", _class(5, t, SAD, "sad"), t)
        alerts += view.tick(t)
    assert [a.kind for a in alerts] == ["class_drop"]
    assert alerts[0].student_id is None and "fell from" in alerts[0].message
    assert 30 < alerts[0].at < 36  # within the smoothing window of the fall
    # Still low, later: the same episode, no second alert.
    for t in range(60, 150):
        view.merge("p1", _class(5, t, SAD, "sad"), t)
        alerts += view.tick(t)
    assert len(alerts) == 1


def test_class_drop_counts_students_who_leave_their_camera():
    view = ClassView(SETTINGS)
    alerts = []
    for t in range(0, 20):
        view.merge("p1", _class(4, t), t)
        alerts += view.tick(t)
    for t in range(20, 40):
        view.merge("p1", _class(4, t, face_count=0), t)
        alerts += view.tick(t)
    assert [a.kind for a in alerts] == ["class_drop"]


def test_a_slow_drift_or_a_tiny_class_raises_no_class_drop():
    view = ClassView(SETTINGS)
    alerts = []
    for t in range(0, 600):  # from happy to sad over ten minutes: never 0.25 within a minute
        mix = t / 600
        probs = tuple(h * (1 - mix) + s * mix for h, s in zip(HAPPY, SAD, strict=True))
        view.merge("p1", _class(5, t, probs, "happy" if mix < 0.5 else "sad"), t)
        alerts += view.tick(t)
    assert alerts == []
    small = ClassView(SETTINGS)
    for t in range(0, 20):
        small.merge("p1", _class(2, t), t)
        alerts += small.tick(t)
    for t in range(20, 40):
        small.merge("p1", _class(2, t, SAD, "sad"), t)
        alerts += small.tick(t)
    assert alerts == []


def test_snapshot_counts_distribution_and_merging_from_two_processes():
    view = ClassView(SETTINGS)
    view.merge("p1", _class(2, 10), 10)
    others = _class(4, 10, SAD, "sad")[2:]  # ids 2, 3 from another process
    view.merge("p2", others, 10)
    view.merge("p2", [{"id": 9, "name": "Away", "connected": True, "streaming": False, "faces": 0}], 10)
    snapshot = view.snapshot(10)
    assert snapshot["counts"] == {"joined": 5, "streaming": 4, "faces": 4}
    assert snapshot["distribution"]["happy"] == 0.5 and snapshot["distribution"]["sad"] == 0.5
    assert [s["name"] for s in snapshot["students"]] == ["Away", "S0", "S1", "S2", "S3"]
    # Process p2 goes away: its students are no longer connected.
    gone = view.forget_origin("p2")
    assert {s["id"] for s in gone} == {2, 3, 9}
    assert view.counts() == {"joined": 2, "streaming": 2, "faces": 2}
