"""Recorded lessons: probing, sampling the frame on screen each second, decoding only what is needed, analysing with
participant numbers, bad files, and `python -m inference analyze-video`. Videos are encoded here with PyAV."""

import csv
import threading
import time

import numpy as np
import pytest

from inference import EMOTIONS, Engine
from inference.classifier import EmotionClassifier
from inference.cli import main
from inference.errors import NotAVideo, TruncatedVideo, UnsupportedCodec, VideoError
from inference.gallery_builder import build_gallery, encode_jpeg, lesson_video, shared_people, write_video
from inference.video import FrameSampler, Progress, analyze_video, iter_frames, probe

from .conftest import FACES

needs_faces = pytest.mark.skipif(
    not FACES.is_dir(), reason=f"no face photos at {FACES} (set FERMONITOR_SHARED_DIR to the shared folder)"
)


def numbered_frames(count: int, size=(320, 180)):
    """Frames that say which they are: frame i is filled with grey level 10 * i (mod 250)."""
    for index in range(count):
        yield np.full((size[1], size[0], 3), (10 * index) % 250, np.uint8)


def frame_number(rgb: np.ndarray) -> int:
    return int(round(float(rgb.mean()) / 10))


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):
    """12 s of a 4x4 call gallery at 2 frames/s, keyframes every 4 s, re-ordered from 6 s on."""
    if not FACES.is_dir():
        pytest.skip(f"no face photos at {FACES} (set FERMONITOR_SHARED_DIR to the shared folder)")
    path = tmp_path_factory.mktemp("video") / "lesson.mp4"
    people = shared_people(16, seed=4)
    return lesson_video(path, people, 12, rows=4, cols=4, size=(1280, 720), keyframe_seconds=4, reorder_at=6)


@pytest.mark.parametrize(
    ("name", "codec", "container"),
    [
        ("lesson.mp4", "libx264", "mov,mp4,m4a,3gp,3g2,mj2"),
        ("lesson.mov", "mpeg4", "mov,mp4,m4a,3gp,3g2,mj2"),
        ("lesson.mkv", "libx264", "matroska,webm"),
        ("lesson.webm", "libvpx-vp9", "matroska,webm"),
    ],
)
def test_probe_reads_length_size_and_codec_of_the_accepted_formats(tmp_path, name, codec, container):
    path = write_video(tmp_path / name, numbered_frames(16), fps=2, codec=codec, keyframe_seconds=2)
    info = probe(path)
    assert info.duration == pytest.approx(8.0, abs=0.05)
    assert (info.width, info.height) == (320, 180)
    assert info.codec == {"libx264": "h264", "libvpx-vp9": "vp9"}.get(codec, codec)
    assert info.container == container and info.is_recording_format
    assert info.samples(1) == 8 and info.samples(2) == 16


def test_each_sampled_second_gets_the_frame_on_screen_then(tmp_path):
    path = write_video(tmp_path / "slow.mkv", numbered_frames(20), fps=2.5, keyframe_seconds=4)  # 8 s
    frames = list(iter_frames(path, fps=1))
    assert [f.t for f in frames] == [float(t) for t in range(8)]
    for frame in frames:
        shown = int(frame.t * 2.5)  # the last frame that started at or before t
        assert frame_number(frame.rgb) == shown
        assert frame.shown_at <= frame.t < frame.shown_at + 0.4 + 1e-6


def test_a_frame_held_on_screen_is_sampled_at_every_instant_it_covers(tmp_path):
    path = write_video(tmp_path / "held.mp4", numbered_frames(4), fps=0.5)  # one frame every 2 s, 8 s
    frames = list(iter_frames(path, fps=1))
    assert [frame_number(f.rgb) for f in frames] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert [f.index for f in frames] == [0, 0, 1, 1, 2, 2, 3, 3]


def test_groups_of_pictures_without_a_sampled_instant_are_not_decoded(tmp_path):
    path = write_video(tmp_path / "fast.mp4", numbered_frames(100), fps=10, keyframe_seconds=0.5)  # 10 s
    sampler = FrameSampler(path, fps=1)
    frames = list(sampler)
    assert [frame_number(f.rgb) for f in frames] == [(10 * t) % 25 for t in range(10)]
    assert sampler.packets == 100
    assert sampler.decoded <= 30  # the keyframe at each second and the frame after it


@pytest.fixture
def bad_files(tmp_path):
    good = write_video(tmp_path / "good.mkv", numbered_frames(40), fps=2, keyframe_seconds=2)  # 20 s
    files = {}
    data = good.read_bytes()
    files["truncated.mkv"] = (data[: len(data) // 2], TruncatedVideo)
    mp4 = write_video(tmp_path / "good.mp4", numbered_frames(40), fps=2).read_bytes()  # index at the end
    files["truncated.mp4"] = (mp4[: len(mp4) // 2], TruncatedVideo)
    files["codec.mkv"] = (data.replace(b"V_MPEG4/ISO/AVC", b"V_XXXXX/ISO/XYZ"), UnsupportedCodec)
    files["notes.mp4"] = (b"Lesson notes, not a video.\n" * 40, NotAVideo)
    files["empty.webm"] = (b"", NotAVideo)
    files["picture.mp4"] = (encode_jpeg(next(numbered_frames(1))), NotAVideo)
    import av

    audio = tmp_path / "sound.m4a"
    with av.open(str(audio), "w") as output:
        stream = output.add_stream("aac", rate=44100)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 44100), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 44100
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            output.mux(packet)
    files["sound.mp4"] = (audio.read_bytes(), NotAVideo)
    paths = {}
    for name, (content, error) in files.items():
        (tmp_path / name).write_bytes(content)
        paths[name] = (tmp_path / name, error)
    return paths


def test_bad_files_get_a_typed_error_with_a_message_from_probe_and_from_sampling(bad_files):
    for name, (path, error) in bad_files.items():
        with pytest.raises(error) as raised:
            probe(path)
        assert str(raised.value), name
        with pytest.raises(VideoError):
            list(iter_frames(path, 1))
    with pytest.raises(NotAVideo):
        probe(bad_files["notes.mp4"][0].with_name("missing.mp4"))


@needs_faces
def test_a_recorded_lesson_gives_per_second_faces_participants_and_class_mood(lesson):
    reports: list[Progress] = []
    samples = list(analyze_video(lesson, 1, Engine(), progress=reports.append))
    assert [s.t for s in samples] == [float(t) for t in range(12)]
    assert [r.done for r in reports] == list(range(1, 13)) and {r.total for r in reports} == {12}
    assert reports[-1].faces == sum(len(s.faces) for s in samples)
    for sample in samples:
        assert len(sample.faces) >= 15
        assert all(face.participant is not None for face in sample.faces)
        mood = sample.mood
        assert sum(mood.shares.values()) == pytest.approx(1.0, abs=1e-6) and set(mood.shares) == set(EMOTIONS)
        assert 0.0 <= mood.valence <= 1.0
    before = set().union(*(s.participants for s in samples[:6]))
    after = set().union(*(s.participants for s in samples[6:]))  # the gallery was re-ordered at 6 s
    assert len(before & after) >= 15


@needs_faces
def test_a_presence_only_video_never_runs_the_classifier(lesson, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the classifier ran in presence-only mode")

    monkeypatch.setattr(EmotionClassifier, "__init__", forbidden)
    monkeypatch.setattr(EmotionClassifier, "classify", forbidden)
    samples = list(analyze_video(lesson, 1, Engine(), emotions=False))
    assert len(samples) == 12 and all(len(s.faces) >= 15 and s.mood is None for s in samples)


@needs_faces
def test_stopping_an_analysis_early_stops_its_threads(lesson):
    analysis = analyze_video(lesson, 1, Engine())
    assert next(analysis).t == 0.0
    analysis.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(t.name.startswith("video-") for t in threading.enumerate()):
        time.sleep(0.05)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("video-")]


def test_damage_found_while_analysing_is_raised(tmp_path, engine):
    path = write_video(tmp_path / "cut.mkv", numbered_frames(40), fps=2, keyframe_seconds=2)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(TruncatedVideo):
        list(analyze_video(path, 1, engine))


@needs_faces
def test_the_command_line_writes_a_per_second_timeline(lesson, tmp_path, capsys):
    out = tmp_path / "timeline.csv"
    assert main(["analyze-video", str(lesson), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 12 and rows[0]["t"] == "0.00" and rows[-1]["t"] == "11.00"
    assert all(int(row["faces"]) >= 15 and int(row["participants"]) >= 15 for row in rows)
    assert all(
        sum(float(row[f"share_{e}"]) for e in EMOTIONS) == pytest.approx(1.0, abs=1e-3) for row in rows
    )
    assert "participants" in capsys.readouterr().err

    assert main(["analyze-video", str(lesson), "--fps", "0.5", "--presence-only"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "t,faces,participants,participants_seen" and len(printed) == 1 + 6


def test_the_command_line_explains_a_bad_file(tmp_path, capsys):
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    assert main(["analyze-video", str(notes)]) == 1
    assert "not a video" in capsys.readouterr().err


def test_gallery_frames_survive_encoding(tmp_path):
    """The builder's video is what the analysis sees: a decoded frame looks like the gallery it came from."""
    if not FACES.is_dir():
        pytest.skip(f"no face photos at {FACES} (set FERMONITOR_SHARED_DIR to the shared folder)")
    gallery = build_gallery(shared_people(4, seed=1), 2, 2, size=(640, 360)).image
    path = write_video(tmp_path / "g.mp4", [gallery] * 4, fps=2)
    decoded = next(iter_frames(path, 1)).rgb
    assert np.abs(decoded.astype(int) - gallery.astype(int)).mean() < 6
