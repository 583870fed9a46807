"""Live-session aggregation: per-student state, the class view, alerts. Pure Python, no I/O, clock passed in.

How the pieces fit across several Daphne processes (the I/O lives in `analytics.live.hub`):

* Each process holds one hub per live session that has a student stream or a dashboard open in it.
* A student's frames arrive on exactly one socket, so exactly one process *owns* that student. Its hub keeps a
  `StudentTracker` per owned student: the latest result, when a face was last seen, since when the emotion has
  been negative. The owner alone evaluates the per-student alerts (no face for N s, negative for M s), so each
  alert episode is raised once without any coordination.
* Every ~50 ms the owner publishes the students that changed (a few small dicts, never frames) to the session's
  channel-layer group. Every hub of the session, in every process, merges them into a `ClassView`: the same
  full picture of the class everywhere. Local dashboards get the merged per-student updates as they arrive and a
  full class snapshot (distribution, mood/engagement index, counts) once a second.
* The class-wide drop is a property of the merged view, so every hub can see it; each hub tracks the episode
  itself and the store de-duplicates across processes (one row per session and kind within a window).

Emotion scores: each face's probabilities give a valence in [0, 1] (`VALENCE`). A streaming student contributes
their valence when a face is present and 0 when not, so the class index falls both when the class gets unhappy
and when students disappear from their cameras: a mood/engagement index. Presence-only sessions never see any
emotion: their index is the share of streaming students whose face is present.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

from analytics.models import EMOTIONS, NEGATIVE_EMOTIONS
from inference.mood import VALENCE  # shared with recorded lessons and the command line

# A student with no frame for this many frame intervals (and at least STALE_MIN_SECONDS) is not streaming.
STALE_FRAMES = 3
STALE_MIN_SECONDS = 3.0
# The class drop compares the recent index (mean over SMOOTH_SECONDS) with its best over DROP_WINDOW_SECONDS.
SMOOTH_SECONDS = 5.0
DROP_WINDOW_SECONDS = 60.0
# Fewer streaming students than this make a "class-wide" drop meaningless (one student's face is not a class).
MIN_STUDENTS_FOR_CLASS_DROP = 3


@dataclass(frozen=True)
class AlertSettings:
    no_face_seconds: float = 30.0
    negative_seconds: float = 60.0
    class_drop_threshold: float = 0.25
    presence_only: bool = False
    frame_rate: float = 1.0

    @classmethod
    def for_session(cls, session, presence_only: bool) -> AlertSettings:
        return cls(
            no_face_seconds=float(session.no_face_alert_seconds),
            negative_seconds=float(session.negative_alert_seconds),
            class_drop_threshold=float(session.class_drop_threshold),
            presence_only=presence_only,
            frame_rate=float(session.frame_rate),
        )

    @property
    def stale_after(self) -> float:
        return max(STALE_MIN_SECONDS, STALE_FRAMES / self.frame_rate)


@dataclass(frozen=True)
class AlertEvent:
    kind: str  # analytics.models.AlertKind value
    message: str
    at: float  # epoch seconds
    student_id: int | None = None
    participant_id: int | None = None  # a video call's participant (with student_id once assigned)

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "message": self.message,
            "at": self.at,
            "student_id": self.student_id,
            "participant_id": self.participant_id,
        }


def valence(probabilities) -> float | None:
    if probabilities is None:
        return None
    return float(sum(p * VALENCE[name] for name, p in zip(EMOTIONS, probabilities, strict=True)))


@dataclass
class StudentTracker:
    """What the owning process knows about one streaming student, and their alert episodes."""

    student_id: int
    name: str
    started_at: float
    connected: bool = True
    frames: int = 0
    face_count: int = 0
    emotion: str = ""
    confidence: float | None = None
    valence: float | None = None
    last_seen: float | None = None
    last_face_at: float | None = None
    negative_since: float | None = None
    no_face_alerted: bool = False
    negative_alerted: bool = False

    def observe(
        self, at: float, face_count: int, emotion: str = "", confidence=None, probabilities=None
    ) -> None:
        self.frames += 1
        self.last_seen = at
        self.face_count = face_count
        if face_count > 0:
            self.last_face_at = at
            self.no_face_alerted = False  # a face ends the no-face episode
            self.emotion = emotion or ""
            self.confidence = confidence
            self.valence = valence(probabilities)
            if self.emotion in NEGATIVE_EMOTIONS:
                if self.negative_since is None:
                    self.negative_since = at
            else:
                self.negative_since = None
                self.negative_alerted = False
        else:
            # No face: nothing to say about emotion. The negative episode neither starts nor ends here.
            self.emotion, self.confidence, self.valence = "", None, None

    def streaming(self, now: float, settings: AlertSettings) -> bool:
        if not self.connected:
            return False
        reference = self.last_seen if self.last_seen is not None else self.started_at
        return now - reference <= settings.stale_after

    def due_alerts(self, now: float, settings: AlertSettings) -> list[AlertEvent]:
        """Alerts whose condition has just lasted long enough; each episode yields one alert."""
        alerts = []
        if not self.connected:
            return alerts
        face_reference = self.last_face_at if self.last_face_at is not None else self.started_at
        if (
            not self.no_face_alerted
            and self.face_count == 0
            and settings.no_face_seconds > 0
            and now - face_reference >= settings.no_face_seconds
        ):
            self.no_face_alerted = True
            alerts.append(
                AlertEvent(
                    "no_face",
                    f"{self.name}: no face visible for {int(now - face_reference)} s.",
                    now,
                    self.student_id,
                )
            )
        if (
            not settings.presence_only
            and not self.negative_alerted
            and self.negative_since is not None
            and settings.negative_seconds > 0
            and now - self.negative_since >= settings.negative_seconds
        ):
            self.negative_alerted = True
            alerts.append(
                AlertEvent(
                    "negative",
                    f"{self.name}: {self.emotion or 'negative'} expression for {int(now - self.negative_since)} s.",
                    now,
                    self.student_id,
                )
            )
        return alerts

    def public(self, now: float, settings: AlertSettings) -> dict:
        """The small dict that travels through the channel layer and to dashboards."""
        state = {
            "id": self.student_id,
            "name": self.name,
            "connected": self.connected,
            "streaming": self.streaming(now, settings),
            "faces": self.face_count,
            "last_seen": self.last_seen,
            "n": self.frames,
        }
        if not settings.presence_only:
            state.update(
                emotion=self.emotion,
                confidence=None if self.confidence is None else round(self.confidence, 3),
                valence=None if self.valence is None else round(self.valence, 3),
            )
        return state


def participant_key(participant_id: int) -> str:
    """A call participant's id among the class view's entries (students are keyed by their user id)."""
    return f"p{participant_id}"


@dataclass
class ParticipantState(StudentTracker):
    """A face of the teacher's video call, tracked like a streaming student by the process that reads the call.
    `student_id` is its key in the class view (`participant_key`); `assigned_id` the student it is assigned to."""

    participant_id: int = 0
    number: int = 0
    uuid: str = ""
    assigned_id: int | None = None
    proposal: dict | None = None  # {"student": uuid, "name"} read from the tile's name label; never applied

    def due_alerts(self, now: float, settings: AlertSettings) -> list[AlertEvent]:
        return [
            replace(alert, student_id=self.assigned_id, participant_id=self.participant_id)
            for alert in super().due_alerts(now, settings)
        ]

    def public(self, now: float, settings: AlertSettings) -> dict:
        state = super().public(now, settings)
        state.update(
            kind="participant",
            participant=self.uuid,
            number=self.number,
            student_id=self.assigned_id,
        )
        if self.proposal is not None and self.assigned_id is None:
            state["proposal"] = self.proposal
        return state


@dataclass
class ClassView:
    """The merged class picture every hub keeps: latest public state per student, index history, class drop."""

    settings: AlertSettings
    students: dict[int, dict] = field(default_factory=dict)
    owners: dict[int, tuple[str, float]] = field(default_factory=dict)  # student id -> (origin, heard at)
    recent: deque = field(default_factory=deque)  # (t, index) over the last SMOOTH_SECONDS
    levels: deque = field(default_factory=deque)  # (t, smoothed index) over the last DROP_WINDOW_SECONDS
    drop_active: bool = False

    def merge(self, origin: str, updates: list[dict], now: float) -> None:
        for state in updates:
            self.students[state["id"]] = dict(state)
            self.owners[state["id"]] = (origin, now)

    def forget_origin(self, origin: str) -> list[dict]:
        """A process went away: its students are no longer connected. Returns their changed states."""
        changed = []
        for student_id, (owner, _) in list(self.owners.items()):
            if owner == origin:
                state = self.students[student_id]
                if state.get("connected"):
                    state.update(connected=False, streaming=False)
                    changed.append(state)
                del self.owners[student_id]
        return changed

    def counts(self) -> dict:
        states = self.students.values()
        return {
            "joined": sum(1 for s in states if s.get("connected")),
            "streaming": sum(1 for s in states if s.get("streaming")),
            "faces": sum(1 for s in states if s.get("streaming") and s.get("faces", 0) > 0),
        }

    def distribution(self) -> dict[str, float] | None:
        """Shares of each emotion among streaming students with a face (None in presence-only sessions)."""
        if self.settings.presence_only:
            return None
        emotions = [
            s.get("emotion") for s in self.students.values() if s.get("streaming") and s.get("faces", 0) > 0
        ]
        emotions = [e for e in emotions if e]
        if not emotions:
            return {name: 0.0 for name in EMOTIONS}
        return {name: round(emotions.count(name) / len(emotions), 4) for name in EMOTIONS}

    def index(self) -> float | None:
        streaming = [s for s in self.students.values() if s.get("streaming")]
        if not streaming:
            return None
        if self.settings.presence_only:
            scores = [1.0 if s.get("faces", 0) > 0 else 0.0 for s in streaming]
        else:
            scores = [(s.get("valence") or 0.0) if s.get("faces", 0) > 0 else 0.0 for s in streaming]
        return round(sum(scores) / len(scores), 4)

    def tick(self, now: float) -> list[AlertEvent]:
        """Record the index once a second and detect a class-wide drop (once per episode)."""
        current = self.index()
        if current is not None:
            self.recent.append((now, current))
        while self.recent and self.recent[0][0] <= now - SMOOTH_SECONDS:
            self.recent.popleft()
        level = sum(v for _, v in self.recent) / len(self.recent) if self.recent else None
        if level is not None:
            self.levels.append((now, level))
        while self.levels and self.levels[0][0] < now - DROP_WINDOW_SECONDS:
            self.levels.popleft()
        if level is None or self.counts()["streaming"] < MIN_STUDENTS_FOR_CLASS_DROP:
            self.drop_active = False
            return []
        best = max(v for _, v in self.levels)
        drop = best - level
        threshold = self.settings.class_drop_threshold
        if self.drop_active:
            if drop < threshold / 2:  # hysteresis: well recovered, the episode is over
                self.drop_active = False
            return []
        if threshold > 0 and drop >= threshold:
            self.drop_active = True
            what = "presence" if self.settings.presence_only else "mood"
            return [
                AlertEvent(
                    "class_drop",
                    f"Class {what} index fell from {best:.2f} to {level:.2f} within a minute.",
                    now,
                )
            ]
        return []

    def snapshot(self, now: float) -> dict:
        return {
            "type": "snapshot",
            "at": now,
            "presence_only": self.settings.presence_only,
            "counts": self.counts(),
            "distribution": self.distribution(),
            "index": self.index(),
            "students": sorted(self.students.values(), key=lambda s: s.get("name", "")),
        }
