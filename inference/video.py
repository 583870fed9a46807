"""Recorded lessons: sample a video at a few frames per second and run the gallery analysis and tracking on it.

    info = probe(path)                                  # VideoInfo, or a VideoError saying what is wrong
    for frame in iter_frames(path, fps=1):              # the picture on screen at t = 0, 1, 2, ... s
        frame.t, frame.rgb
    for sample in analyze_video(path, 1, engine):       # per second: faces with participant numbers
        sample.t, sample.faces, sample.mood

Decoding only what is needed: packets are read (demuxed) without decoding; a group of pictures (a keyframe and the
frames that depend on it) is decoded only as far as a sampled instant needs, and one without a sampled instant is
never decoded. The frame sampled at t is the one on screen at t: the latest frame shown at or before t, which is
also right for call recordings that write frames only when the picture changes. A frame held over several sampled
instants is analysed once (`VideoFrame.index` tells).

PyAV's wheels bundle FFmpeg; the upload page accepts MP4, MOV, MKV and WebM (`RECORDING_FORMATS`), the command line
anything FFmpeg reads.
"""

import contextlib
import math
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from .errors import NotAVideo, TruncatedVideo, UnsupportedCodec
from .gallery import GalleryFace, GalleryResult
from .mood import ClassMood, class_mood

# FFmpeg's names for the containers of MP4/MOV and MKV/WebM files.
RECORDING_FORMATS = {"mov,mp4,m4a,3gp,3g2,mj2": "MP4/MOV", "matroska,webm": "MKV/WebM"}
# A video whose last frame comes this many seconds before its stated end was cut short (screen recorders that write
# frames only when the picture changes still write one every few seconds).
TRUNCATED_AFTER = 5.0
MAX_WIDTH, MAX_HEIGHT = 1920, 1080  # larger recordings are scaled down to fit (what analyze_gallery expects)


@dataclass(frozen=True)
class VideoInfo:
    duration: float  # seconds
    width: int
    height: int
    codec: str  # FFmpeg's decoder name, e.g. "h264", "vp9"
    container: str  # FFmpeg's format name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    frame_rate: float | None  # average frames per second, when the file says

    @property
    def is_recording_format(self) -> bool:
        return self.container in RECORDING_FORMATS

    def samples(self, fps: float) -> int:
        """How many instants `iter_frames(path, fps)` yields."""
        return max(1, math.ceil(self.duration * fps - 1e-9))


@dataclass(frozen=True)
class VideoFrame:
    t: float  # the sampled instant, seconds from the video's start
    rgb: np.ndarray  # HxWx3 uint8, at most MAX_WIDTH x MAX_HEIGHT
    index: int  # which decoded frame this is (the same for instants where one frame stays on screen)
    shown_at: float  # when that frame appears, seconds from the start


def _looks_like_video_container(path: Path) -> bool:
    with open(path, "rb") as file:
        head = file.read(12)
    return head[:4] == b"\x1a\x45\xdf\xa3" or head[4:8] in {
        b"ftyp",
        b"moov",
        b"mdat",
        b"wide",
        b"free",
        b"skip",
    }


def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise NotAVideo("The file does not exist.")
    try:
        return av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError) as error:
        if _looks_like_video_container(path):
            raise TruncatedVideo(
                "The video file is incomplete or damaged (was the upload interrupted?)."
            ) from error
        raise NotAVideo("This file is not a video.") from error


def _video_stream(container) -> "av.video.stream.VideoStream":
    if container.format.name.endswith("_pipe") or container.format.name == "image2":
        raise NotAVideo("This file is a picture, not a video.")
    if not container.streams.video:
        raise NotAVideo("The file has no video (audio only?).")
    stream = container.streams.video[0]
    codec = stream.codec_context
    if codec is None or not getattr(codec, "name", None) or codec.name == "none":
        raise UnsupportedCodec("The video's codec is not supported; export the recording as MP4 (H.264).")
    return stream


def _duration(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def probe(path: str | Path) -> VideoInfo:
    """Check that `path` is a complete video whose first and last seconds decode; raises `NotAVideo`,
    `UnsupportedCodec` or `TruncatedVideo` (all `VideoError`s with a message for the uploader)."""
    path = Path(path)
    with _open(path) as container:
        stream = _video_stream(container)
        duration = _duration(container, stream)
        last_time = None
        try:
            first = next(container.decode(stream), None)
            if first is None:
                raise TruncatedVideo("The video has no picture (empty or damaged file).")
            if duration is None or duration <= 0:
                # No duration in the header (some WebM files): read the packets' times instead.
                duration = _demuxed_duration(container, stream)
            else:
                # The end must decode too: an interrupted upload keeps the header but loses the last part.
                target = max(0.0, duration - 3.0)
                container.seek(int(target / stream.time_base) + (stream.start_time or 0), stream=stream)
                for frame in container.decode(stream):
                    last_time = frame.time
        except av.error.DecoderNotFoundError as error:
            raise UnsupportedCodec("The video's codec is not supported; export it as MP4 (H.264).") from error
        except av.FFmpegError as error:
            raise TruncatedVideo(
                "The video is damaged or incomplete (was the upload interrupted?)."
            ) from error
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        if last_time is not None and last_time - start < duration - TRUNCATED_AFTER:
            raise TruncatedVideo("The video ends before its stated length (was the upload interrupted?).")
        rate = float(stream.average_rate) if stream.average_rate else None
        return VideoInfo(
            duration=float(duration),
            width=first.width,
            height=first.height,
            codec=stream.codec_context.name,
            container=container.format.name,
            frame_rate=rate,
        )


def _demuxed_duration(container, stream) -> float:
    container.seek(0)
    end = 0.0
    for packet in container.demux(stream):
        if packet.pts is not None:
            end = max(end, float((packet.pts + (packet.duration or 0)) * stream.time_base))
    start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    return end - start


class FrameSampler:
    """Iterates the frames on screen at t = 0, 1/fps, 2/fps, ... (see the module docstring); counts what it read
    (`packets`) and what it had to decode (`decoded`)."""

    def __init__(self, path: str | Path, fps: float = 1.0):
        if not fps > 0:
            raise ValueError("fps must be positive")
        self.path = Path(path)
        self.interval = 1.0 / fps
        self.packets = 0
        self.decoded = 0

    def __iter__(self) -> Iterator[VideoFrame]:
        with _open(self.path) as container:
            stream = _video_stream(container)
            duration = _duration(container, stream)
            try:
                yield from self._sample(container, stream, duration)
            except av.error.DecoderNotFoundError as error:
                raise UnsupportedCodec(
                    "The video's codec is not supported; export it as MP4 (H.264)."
                ) from error
            except av.FFmpegError as error:
                raise TruncatedVideo(
                    "The video is damaged or incomplete (was the upload interrupted?)."
                ) from error

    def _sample(self, container, stream, duration: float | None) -> Iterator[VideoFrame]:
        codec = stream.codec_context
        base = stream.time_base
        start = stream.start_time or 0
        state = {
            "index": -1,
            "last": None,
            "next": 0,
        }  # decoded frames, the latest one, next instant's number

        def seconds(pts) -> float:
            return float((pts - start) * base)

        def take(frames) -> Iterator[VideoFrame]:
            """Feed decoded frames (presentation order); yield the instants that they close."""
            for frame in frames:
                self.decoded += 1
                state["index"] += 1
                shown = seconds(frame.pts) if frame.pts is not None else 0.0
                while state["last"] is not None and shown > state["next"] * self.interval + 1e-6:
                    yield self._instant(state)
                state["last"] = (frame, state["index"], shown)

        pending: list = []  # packets of the current group of pictures not yet decoded
        hunting = False  # decoding every packet until a frame past the next instant comes out
        for packet in container.demux(stream):
            if packet.size == 0:
                continue  # the demuxer's end-of-stream marker; draining happens below
            self.packets += 1
            when = packet.pts if packet.pts is not None else packet.dts
            passes = when is None or seconds(when) > state["next"] * self.interval
            if packet.is_keyframe and not hunting and not passes:
                if pending or state["last"] is not None:
                    codec.flush_buffers()  # frames still held by the decoder belong to a group we no longer need
                pending = []
            pending.append(packet)
            if not hunting and not passes:
                continue  # not needed yet: the instant is still ahead
            # This packet is past the instant: the frame on screen then is among the pending ones (or this one,
            # for reordered frames). Decode them, and go on decoding until a frame past the instant comes out.
            hunting = True
            before = state["next"]
            for waiting in pending:
                yield from take(codec.decode(waiting))
            pending = []
            if state["next"] > before:
                hunting = False
        for waiting in pending:  # an instant may still need the last packets
            yield from take(codec.decode(waiting))
        yield from take(codec.decode(None))
        if state["last"] is not None and duration and state["last"][2] < duration - TRUNCATED_AFTER:
            raise TruncatedVideo("The video ends before its stated length (was the upload interrupted?).")
        end = duration if duration else (state["last"][2] + self.interval if state["last"] else 0.0)
        while state["last"] is not None and state["next"] * self.interval < end - 1e-6:
            yield self._instant(state)

    def _instant(self, state) -> VideoFrame:
        frame, index, shown = state["last"]
        t = state["next"] * self.interval
        state["next"] += 1
        cached = state.get("rgb")
        if cached is None or cached[0] != index:
            width, height = frame.width, frame.height
            scale = min(1.0, MAX_WIDTH / width, MAX_HEIGHT / height)
            size = (max(2, round(width * scale)), max(2, round(height * scale)))
            rgb = frame.to_ndarray(format="rgb24", width=size[0], height=size[1])
            state["rgb"] = cached = (index, rgb)
        return VideoFrame(t, cached[1], index, shown)


def iter_frames(path: str | Path, fps: float = 1.0) -> Iterator[VideoFrame]:
    """The frames on screen at t = 0, 1/fps, 2/fps, ... up to the video's end (see `FrameSampler`)."""
    return iter(FrameSampler(path, fps))


@dataclass
class VideoSample:
    """One sampled instant of a recording, analysed and tracked."""

    t: float  # seconds from the video's start
    width: int
    height: int
    faces: list[GalleryFace]  # each with its participant number
    timings: dict[str, float]

    @property
    def participants(self) -> list[int]:
        return sorted({face.participant for face in self.faces if face.participant is not None})

    @property
    def mood(self) -> ClassMood | None:
        """Share per emotion and valence over the faces; None in presence-only mode or without faces."""
        return class_mood([face.probabilities for face in self.faces])


@dataclass(frozen=True)
class Progress:
    done: int  # sampled instants analysed
    total: int  # instants in the video at this rate
    faces: int  # faces found so far, summed over instants
    t: float  # the last instant analysed, seconds


def analyze_video(
    path: str | Path,
    fps: float,
    engine,
    emotions: bool = True,
    progress: Callable[[Progress], None] | None = None,
    *,
    workers: int | None = None,
    tracker=None,
    info: VideoInfo | None = None,
    sampler: FrameSampler | None = None,
) -> Iterator[VideoSample]:
    """Sample the recording at `fps`, analyse every instant with `engine.analyze_gallery` and number its faces
    with one `ParticipantTracker`; yields a `VideoSample` per instant, in order. `emotions=False`: presence only
    (the classifier never runs). `progress` is called after each instant.

    Decoding runs on its own thread and the analysis on `workers` threads (default: the machine's cores), while
    the tracking stays in order here. Closing the generator early stops both. Raises a `VideoError` for a bad file
    (before the first sample when `probe` finds it, or where the damage starts). `sampler`: a FrameSampler for
    this file and rate, to read its counters afterwards."""
    from .tracking import ParticipantTracker

    info = info or probe(path)
    total = info.samples(fps)
    tracker = tracker or ParticipantTracker()
    workers = workers or max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    )
    frames: queue.Queue = queue.Queue(maxsize=workers * 2)
    stop = threading.Event()
    done_marker = object()

    def decode() -> None:
        try:
            for frame in sampler or FrameSampler(path, fps):
                while not stop.is_set():
                    try:
                        frames.put(frame, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            frames.put(done_marker)
        except BaseException as error:  # handed to the consumer, which raises it
            frames.put(error)

    decoder = threading.Thread(target=decode, name="video-decode", daemon=True)
    decoder.start()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="video-analyse")
    in_flight: list[tuple[VideoFrame, Future | GalleryResult]] = []
    previous: tuple[int, Future] | None = None  # a frame held on screen is analysed once
    found = 0
    finished = False
    try:
        while True:
            while not finished and len(in_flight) < workers * 2:
                item = frames.get()
                if item is done_marker:
                    finished = True
                    break
                if isinstance(item, BaseException):
                    raise item
                if previous is not None and previous[0] == item.index:
                    future = previous[1]
                else:
                    future = pool.submit(engine.analyze_gallery, item.rgb, emotions=emotions)
                    previous = (item.index, future)
                in_flight.append((item, future))
            if not in_flight:
                break
            frame, future = in_flight.pop(0)
            result = future.result()
            faces = [
                _copy_face(face) for face in result.faces
            ]  # a held frame's faces are shared across instants
            tracker.update(GalleryResult(result.width, result.height, faces, result.timings), frame.t)
            found += len(faces)
            sample = VideoSample(frame.t, result.width, result.height, faces, dict(result.timings))
            if progress is not None:
                progress(Progress(min(total, round(frame.t * fps) + 1), total, found, frame.t))
            yield sample
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        while decoder.is_alive():
            with contextlib.suppress(queue.Empty):
                frames.get(timeout=0.1)


def _copy_face(face: GalleryFace) -> GalleryFace:
    return GalleryFace(
        face.box, face.score, face.probabilities, face.emotion, face.confidence, face.embedding
    )
