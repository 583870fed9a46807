"""The teacher's capture of a video call, per session and process: the participant tracker and who it has seen.

A capture socket analyses gallery frames (`pipeline.analyze_gallery`) and hands each result to this session's
`inference.tracking.ParticipantTracker`, which numbers the faces from 1 in order of first sight. The tracker's
number plus the session's `offset` (the highest participant number used before this tracker existed) is the
participant's number in the session, so a fresh tracker never reuses someone else's number, or their assignment.

The state outlives its socket for `FERMONITOR_CAPTURE_RESUME_SECONDS`: a capture that reconnects (a network drop,
a reload of the dashboard) within that time, in the same process, gets the same tracker back and its faces keep
their numbers. Stopping the share or the end of the session drops the state at once. Nothing of a frame is kept
here: the tracker holds boxes and appearance vectors (small numbers, in memory), never pixels.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

from django.conf import settings

from . import pipeline
from .store import ParticipantRef

# A participant whose face has not been in the picture for this long has left the call (or switched their camera
# off for good): they stop counting as present-without-a-face and get no more samples until their face is back.
PARTICIPANT_GONE_SECONDS = 120.0
# Name labels (`labels`): one read at a time per capture, at least this far apart, at most this many per
# participant (a tile without a readable name is not read forever).
LABEL_READ_SECONDS = 2.0
LABEL_ATTEMPTS = 3


@dataclass(eq=False)
class CaptureState:
    session_uuid: str
    offset: int
    tracker: object  # inference.tracking.ParticipantTracker
    refs: dict[int, ParticipantRef] = field(default_factory=dict)  # session number -> participant
    last_face: dict[int, float] = field(default_factory=dict)  # participant pk -> when its face was last seen
    gone: set[int] = field(default_factory=set)  # participant pks no longer in the call
    frames: int = 0
    proposals: dict[int, dict] = field(default_factory=dict)  # participant pk -> {"student", "name"} (labels)
    label_attempts: dict[int, int] = field(default_factory=dict)
    label_read_at: float = 0.0
    reading_label: bool = False
    owner: object | None = None  # the consumer using it; None while released
    released_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def analyse(self, frame: bytes, emotions: bool, max_side: int, at: float):
        """(result, session participant numbers in the order of result.faces); on a pool thread."""
        result = pipeline.analyze_gallery_frame(frame, emotions, max_side, max_side)
        with self.lock:  # a socket replaced mid-frame may still be finishing one on this tracker
            numbers = self.tracker.update(result, at)
        return result, [self.offset + int(n) for n in numbers]

    async def analyse_on_pool(self, frame: bytes, *, emotions: bool, max_side: int, at: float):
        return await pipeline.run(self.analyse, frame, emotions, max_side, at)

    def next_label_to_read(self, in_picture: dict[int, object], now: float):
        """(ref, box) of a face whose name label is worth reading now, or None."""
        if self.reading_label or now - self.label_read_at < LABEL_READ_SECONDS:
            return None
        for ref in self.refs.values():
            face = in_picture.get(ref.pk)
            if (
                face is not None
                and ref.student_id is None
                and ref.pk not in self.proposals
                and self.label_attempts.get(ref.pk, 0) < LABEL_ATTEMPTS
            ):
                self.label_attempts[ref.pk] = self.label_attempts.get(ref.pk, 0) + 1
                self.reading_label, self.label_read_at = True, now
                return ref, face.box
        return None

    def rename(self, participant_id: int, student_id: int | None, name: str) -> None:
        for number, ref in list(self.refs.items()):
            if ref.pk == participant_id:
                self.refs[number] = replace(ref, student_id=student_id, name=name)


_lock = threading.Lock()
_states: dict[str, CaptureState] = {}


def resume_seconds() -> float:
    return float(settings.FERMONITOR_CAPTURE_RESUME_SECONDS)


def claim(session_uuid: str, owner, now: float | None = None) -> CaptureState | None:
    """The session's capture state for a new socket: one released less than the resume period ago, or one still
    held by a socket that this one replaces. None if there is none (make one with `start`)."""
    now = time.time() if now is None else now
    with _lock:
        for key, state in list(_states.items()):
            if state.released_at is not None and now - state.released_at > resume_seconds():
                del _states[key]
        state = _states.get(session_uuid)
        if state is not None:
            state.owner, state.released_at = owner, None
        return state


def start(session_uuid: str, owner, offset: int) -> CaptureState:
    from inference.tracking import ParticipantTracker

    state = CaptureState(session_uuid, offset, ParticipantTracker(), owner=owner)
    with _lock:
        _states[session_uuid] = state
    return state


async def start_on_pool(session_uuid: str, owner, offset: int) -> CaptureState:
    """`start` on an inference thread: the tracker's first import (supervision, scipy) takes seconds, which the
    event loop, serving every socket of the process, must not wait for."""
    return await pipeline.run(start, session_uuid, owner, offset)


def release(state: CaptureState, owner, *, keep: bool, now: float | None = None) -> None:
    """The socket `owner` is done with the state: keep it for a reconnection, or drop it (stop, session end)."""
    with _lock:
        if state.owner is not owner:
            return  # a newer socket has taken it over
        state.owner = None
        if keep:
            state.released_at = time.time() if now is None else now
        elif _states.get(state.session_uuid) is state:
            del _states[state.session_uuid]


def forget_all() -> None:
    """Drop every state (tests)."""
    with _lock:
        _states.clear()
