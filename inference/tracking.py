"""Stable participant numbers for the faces of a video call's gallery, frame after frame.

    tracker = ParticipantTracker()
    for at, frame in frames:                      # at: seconds (float) or a datetime
        result = engine.analyze_gallery(frame)
        numbers = tracker.update(result, at)      # one number per face (1, 2, 3, ...), also set on each face

Two layers:

1. ByteTrack (supervision's implementation; a maintained, well-known tracker) follows boxes from frame to frame by
   position (IoU with a Kalman prediction), keeping a lost box's track for `lost_frames` frames. In a gallery a tile
   stays put while nobody joins or leaves, so this carries almost every face.
2. Galleries also jump: someone joins and every tile after them moves, the teacher pins a speaker, the window is
   resized. Then a box lands where another participant's box was, and position alone would swap their ids. So every
   association is checked by appearance (`appearance.py`: colour histograms of head and shoulders): a ByteTrack
   match whose face looks unlike its participant is undone, and faces left without a participant are matched to
   recently seen participants by appearance (Hungarian assignment on cosine similarity, a small bonus for the same
   place). What still has no match is a new participant.

A participant unseen for `reid_seconds` is forgotten: if they come back they get a new number (numbers are never
reused). Appearance vectors stay in memory, are averaged per participant and never stored.

Why supervision's ByteTrack: it is maintained, has no compiled dependencies and no numpy<2 pin (norfair has one). It
lives in supervision 0.30.x; later versions moved it into the `trackers` package, whose metadata requires the
opencv-python wheel, which would clash with the opencv-contrib-python this project installs.
"""

import warnings
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy.optimize import linear_sum_assignment

from .blazeface import iou_matrix
from .gallery import GalleryResult

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import supervision as sv


@dataclass
class _Participant:
    number: int
    embedding: np.ndarray
    box: np.ndarray  # x0, y0, x1, y1 where last seen
    last_seen: float


def _seconds(at: float | datetime) -> float:
    return at.timestamp() if isinstance(at, datetime) else float(at)


class ParticipantTracker:
    """Participant numbers for a stream of `GalleryResult`s of one call (one tracker per stream; not thread-safe).

    Similarities measured on galleries of the 25 different people of the shared photos: the same person from one
    frame to the next (heads moving, exposure drifting) or re-sized from 5x5 to 4x4: 0.97 typically, 0.80 at worst
    (a grey wall behind a dark shirt); different people: median 0.56, 90% below 0.73, 99% below 0.84. Hence:

    veto: a position match to a participant the face resembles less than this is undone; margin: ... or when another
        participant resembles the face more than this much better. accept: similarity at which a face is matched to
        a participant seen elsewhere (re-identification); at the same place `veto` suffices. lost_frames: frames
        ByteTrack keeps a vanished box's track. reid_seconds: how long a participant who left can come back under
        their number."""

    def __init__(
        self,
        *,
        accept: float = 0.82,
        veto: float = 0.75,
        margin: float = 0.05,
        lost_frames: int = 5,
        reid_seconds: float = 120.0,
    ):
        self.accept = accept
        self.veto = veto
        self.margin = margin
        self.reid_seconds = reid_seconds
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", FutureWarning
            )  # deprecated upstream in favour of `trackers` (above)
            # frame_rate=30 makes lost_track_buffer a number of frames, whatever the real rate.
            self._bytetrack = sv.ByteTrack(
                track_activation_threshold=0.4,
                lost_track_buffer=lost_frames,
                minimum_matching_threshold=0.8,
                frame_rate=30,
                minimum_consecutive_frames=1,
            )
        self._participants: dict[int, _Participant] = {}
        self._owner: dict[int, int] = {}  # ByteTrack id -> participant number
        self._next_number = 1

    @property
    def participants(self) -> list[int]:
        """Numbers of the participants currently remembered (seen within `reid_seconds`)."""
        return sorted(self._participants)

    def update(self, result: GalleryResult, at: float | datetime) -> list[int]:
        """Number the faces of `result` (a frame taken at `at`); sets `face.participant` and returns the numbers in
        the order of `result.faces`."""
        now = _seconds(at)
        faces = result.faces
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (f.box for f in faces)], np.float32).reshape(
            -1, 4
        )
        tracks = self._track(boxes, np.array([f.score for f in faces], np.float32))
        numbers: list[int | None] = [None] * len(faces)
        taken: set[int] = set()

        # 1. Position, checked by appearance: a ByteTrack match stands if the face looks like its participant and
        #    not clearly more like another one (two tiles that swapped places).
        known = list(self._participants.values())
        similarity = (
            np.stack([f.embedding for f in faces]) @ np.stack([p.embedding for p in known]).T
            if faces and known
            else np.zeros((len(faces), len(known)))
        )
        column = {p.number: col for col, p in enumerate(known)}
        for index, track in enumerate(tracks):
            number = self._owner.get(track) if track is not None else None
            if number not in column or number in taken:
                continue
            own = similarity[index, column[number]]
            others = np.delete(similarity[index], column[number])
            if own >= self.veto and (not len(others) or own + self.margin >= others.max()):
                numbers[index] = number
                taken.add(number)

        # 2. Appearance: the rest against participants not seen in this frame (yet).
        rest = [i for i, n in enumerate(numbers) if n is None]
        free = [col for col, p in enumerate(known) if p.number not in taken]
        if rest and free:
            candidates = [known[col] for col in free]
            scores = similarity[np.ix_(rest, free)]
            same_place = iou_matrix(boxes[rest], np.stack([p.box for p in candidates]))
            rows, cols = linear_sum_assignment(-(scores + 0.05 * same_place))
            for row, col in zip(rows, cols, strict=True):
                if scores[row, col] >= self.accept or (
                    same_place[row, col] >= 0.5 and scores[row, col] >= self.veto
                ):
                    numbers[rest[row]] = candidates[col].number
                    taken.add(candidates[col].number)

        # 3. Whoever is left is new.
        for index, number in enumerate(numbers):
            if number is None:
                numbers[index] = self._next_number
                self._next_number += 1

        for index, number in enumerate(numbers):
            face = faces[index]
            participant = self._participants.get(number)
            if participant is None:
                self._participants[number] = _Participant(number, face.embedding.copy(), boxes[index], now)
            else:
                # A slow average follows lighting and posture without letting one odd frame take over.
                mixed = 0.8 * participant.embedding + 0.2 * face.embedding
                participant.embedding = mixed / max(float(np.linalg.norm(mixed)), 1e-9)
                participant.box, participant.last_seen = boxes[index], now
            if tracks[index] is not None:
                self._owner[tracks[index]] = number
            face.participant = number
        self._forget(now)
        return [int(n) for n in numbers]

    def _track(self, boxes: np.ndarray, scores: np.ndarray) -> list[int | None]:
        """ByteTrack's id per box; None for a box it has not confirmed (a new box in a later frame waits one
        frame before ByteTrack reports it)."""
        detections = sv.Detections(
            xyxy=boxes.astype(np.float64),
            confidence=scores,
            class_id=np.zeros(len(boxes), int),
            data={"index": np.arange(len(boxes))},
        )
        tracked = self._bytetrack.update_with_detections(detections)
        tracks: list[int | None] = [None] * len(boxes)
        for index, track in zip(tracked.data.get("index", []), tracked.tracker_id, strict=True):
            tracks[int(index)] = int(track)
        return tracks

    def _forget(self, now: float) -> None:
        gone = [n for n, p in self._participants.items() if now - p.last_seen > self.reid_seconds]
        for number in gone:
            del self._participants[number]
        if gone:
            self._owner = {track: n for track, n in self._owner.items() if n in self._participants}
