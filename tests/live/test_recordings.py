"""Recorded lessons end to end: an MP4 of a call gallery encoded here (PyAV, real face photos) goes through the upload
page and the django-tasks job (the real `db_worker`), with progress, the report, the file's deletion, a worker
stopped or killed mid-job, cancel, hostile uploads, presence-only schools, and role and tenant denials."""

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from analytics.live import recordings
from analytics.live.models import RecordingJob, RecordingStatus
from analytics.models import CallParticipant, EmotionSample, ParticipantSource
from classes.models import LiveSession, SessionStatus

from ..faces import needs_shared

REPO = Path(__file__).resolve().parents[2]
pytestmark = needs_shared()
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    from inference.gallery_builder import build_slide, lesson_video, shared_people, write_video

    folder = tmp_path_factory.mktemp("recordings-src")
    people = shared_people(16, seed=3)
    short = lesson_video(
        folder / "lesson.mp4", people, 8, rows=4, cols=4, size=(1280, 720), keyframe_seconds=4
    )
    slides = write_video(
        folder / "slides.mp4", [build_slide((1280, 720), seed=s) for s in range(2) for _ in range(8)]
    )
    return {"lesson": short, "slides": slides, "people": people, "folder": folder}


@pytest.fixture
def upload_dir(tmp_path, settings):
    settings.FERMONITOR_RECORDINGS_DIR = tmp_path / "uploads"
    return tmp_path / "uploads"


@pytest.fixture
def school(transactional_cast):
    with scopes_disabled():
        transactional_cast.school_a.call_capture = True
        transactional_cast.school_a.save()
        transactional_cast.school_b.call_capture = True
        transactional_cast.school_b.save()
    return transactional_cast


def upload(client, classroom, path, title="Recorded optics", starts_at="2026-03-02T09:00"):
    with open(path, "rb") as video:
        return client.post(
            reverse("recording_upload", args=[classroom.uuid]),
            {"title": title, "starts_at": starts_at, "recording": video},
        )


def the_job(**filters) -> RecordingJob:
    with scopes_disabled():
        return RecordingJob.objects.select_related("session").get(**filters)


def run_worker():
    """The real worker, in this process: runs every queued task, then returns."""
    call_command("db_worker", batch=True, startup_delay=False, interval=0, reload=False, verbosity=0)


def test_an_uploaded_lesson_becomes_an_ended_session_with_its_report_and_the_file_is_deleted(
    school, client_for, videos, upload_dir
):
    tom = client_for(school.tom)
    page = tom.get(reverse("recording_upload", args=[school.class_a.uuid]))
    assert page.status_code == 200 and b'id="recording-form"' in page.content
    response = upload(tom, school.class_a, videos["lesson"])
    job = the_job(title="Recorded optics")
    assert response.status_code == 302 and response.url == reverse("recording_job", args=[job.uuid])
    assert job.status == RecordingStatus.QUEUED and job.frames_total == 8 and job.starts_at == START
    assert [p.name for p in upload_dir.iterdir()] == [job.file_name]
    status = tom.get(reverse("recording_status", args=[job.uuid])).json()
    assert status["status"] == "queued" and status["percent"] == 0 and status["report_url"] is None
    assert tom.get(reverse("recording_job", args=[job.uuid])).status_code == 200

    run_worker()

    job = the_job(pk=job.pk)
    assert job.status == RecordingStatus.DONE and job.file_name == "" and job.attempt == 1
    assert list(upload_dir.iterdir()) == []  # the video is gone
    status = tom.get(reverse("recording_status", args=[job.uuid])).json()
    assert status["percent"] == 100 and status["frames_done"] == 8 and status["faces"] >= 8 * 15
    session = job.session
    assert session.classroom_id == school.class_a.pk and session.status == SessionStatus.ENDED
    assert (session.started_at, session.ended_at) == (START, START + timedelta(seconds=8))
    with scopes_disabled():
        participants = CallParticipant.objects.filter(session=session)
        assert 15 <= participants.count() <= 20
        assert {p.source for p in participants} == {ParticipantSource.RECORDING}
        samples = EmotionSample.objects.filter(session=session)
        times = sorted({s.captured_at for s in samples})
        assert times == [START + timedelta(seconds=t) for t in range(8)]  # the video's time axis
        assert all(s.emotion and s.p_happy is not None for s in samples.filter(face_count=1))
    report = tom.get(status["report_url"])
    assert report.status_code == 200 and session.title.encode() in report.content

    run_worker()  # nothing left to do: one session, once
    with scopes_disabled():
        assert LiveSession.objects.filter(title="Recorded optics").count() == 1


def test_progress_is_visible_while_the_job_runs(school, client_for, videos, upload_dir, monkeypatch):
    tom = client_for(school.tom)
    upload(tom, school.class_a, videos["lesson"])
    job = the_job()
    seen = []
    monkeypatch.setattr(recordings, "HEARTBEAT_SECONDS", 0.0)
    original = recordings.run_job
    monkeypatch.setattr(
        recordings,
        "run_job",
        lambda job_id, ticket, **kw: original(
            job_id,
            ticket,
            progress_hook=lambda _: seen.append(tom.get(reverse("recording_status", args=[job.uuid])).json()),
        ),
    )
    run_worker()
    assert len(seen) >= 4
    assert all(s["status"] == "running" and s["label"] for s in seen)
    assert [s["frames_done"] for s in seen] == sorted(s["frames_done"] for s in seen)
    assert seen[-1]["percent"] >= 75 and all(s["seconds_left"] is not None for s in seen)
    assert all(s["frames_total"] == 8 for s in seen) and seen[-1]["faces"] > seen[0]["faces"]
    assert the_job(pk=job.pk).status == RecordingStatus.DONE


def test_a_worker_stopped_mid_job_hands_it_back_and_it_completes_once(
    school, client_for, videos, upload_dir, monkeypatch
):
    upload(client_for(school.tom), school.class_a, videos["lesson"])
    job = the_job()
    stops = []
    original = recordings.run_job

    def stopped_once(job_id, ticket, **kw):
        def hook(_):
            if not stops:
                stops.append(ticket)
                raise SystemExit(1)  # what the worker's second Ctrl+C raises inside a running task

        return original(job_id, ticket, progress_hook=hook)

    monkeypatch.setattr(recordings, "run_job", stopped_once)
    run_worker()  # takes the job, is stopped, re-queues it; the batch run then takes the new task
    job = the_job(pk=job.pk)
    assert stops == [0] and job.status == RecordingStatus.DONE and job.attempt == 2
    with scopes_disabled():
        assert LiveSession.objects.filter(classroom=school.class_a, title="Recorded optics").count() == 1
    assert list(upload_dir.iterdir()) == []


@pytest.mark.slow
def test_a_killed_worker_s_job_is_recovered_and_completes_once(school, client_for, videos, upload_dir):
    if connection.vendor != "postgresql":
        pytest.skip(
            "a worker process needs the test database: run with DATABASE_URL=postgres://... (PostgreSQL)"
        )
    from inference.gallery_builder import lesson_video

    # Long enough to be seen running on a fast machine: heartbeats (the progress the test waits for) come once a
    # second, and 40 instants were analysed in under one, straight to DONE.
    seconds = 200
    long = videos["folder"] / "long.webm"
    if not long.exists():
        lesson_video(long, videos["people"], seconds, rows=4, cols=4, size=(1280, 720), codec="libvpx-vp9")
    upload(client_for(school.tom), school.class_a, long, title="Killed")
    job = the_job()
    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FERMONITOR_RECORDINGS_DIR": str(upload_dir),
        "FERMONITOR_INFERENCE_WORKERS": "1",
        "DJANGO_SETTINGS_MODULE": "fermonitor.settings",
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "--interval", "0.2", "--no-reload"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.status == RecordingStatus.RUNNING and job.frames_done >= 3:
                break
            time.sleep(0.2)
        assert job.status == RecordingStatus.RUNNING and job.frames_done >= 3
        worker.send_signal(signal.SIGKILL)  # no chance to hand the job back
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
    job.refresh_from_db()
    assert job.status == RecordingStatus.RUNNING and (upload_dir / job.file_name).exists()
    assert recordings.recover_stale_jobs() == []  # its heartbeat is still fresh: maybe only slow
    later = timezone.now() + timedelta(seconds=120)
    assert recordings.recover_stale_jobs(now=later) == [job.pk]
    run_worker()
    job.refresh_from_db()
    assert job.status == RecordingStatus.DONE and job.attempt == 2 and job.frames_done == seconds
    with scopes_disabled():
        assert LiveSession.objects.filter(title="Killed").count() == 1
    assert list(upload_dir.iterdir()) == []


def test_a_queued_job_can_be_cancelled_and_leaves_nothing(school, client_for, videos, upload_dir):
    tom = client_for(school.tom)
    upload(tom, school.class_a, videos["lesson"])
    job = the_job()
    response = tom.post(reverse("recording_cancel", args=[job.uuid]))
    assert response.status_code == 302
    run_worker()
    job = the_job(pk=job.pk)
    assert job.status == RecordingStatus.CANCELLED and job.session is None
    assert list(upload_dir.iterdir()) == []
    with scopes_disabled():
        assert not LiveSession.objects.filter(title="Recorded optics").exists()


def test_a_running_job_cancelled_from_its_page_stops_and_stores_nothing(
    school, client_for, videos, upload_dir, monkeypatch
):
    tom = client_for(school.tom)
    upload(tom, school.class_a, videos["lesson"])
    job = the_job()
    monkeypatch.setattr(recordings, "HEARTBEAT_SECONDS", 0.0)
    original = recordings.run_job
    cancel = reverse("recording_cancel", args=[job.uuid])
    monkeypatch.setattr(
        recordings,
        "run_job",
        lambda job_id, ticket, **kw: original(
            job_id, ticket, progress_hook=lambda _: tom.post(cancel, HTTP_ACCEPT="application/json")
        ),
    )
    run_worker()
    job = the_job(pk=job.pk)
    assert job.status == RecordingStatus.CANCELLED and job.session is None and job.frames_done < 8
    assert list(upload_dir.iterdir()) == []
    with scopes_disabled():
        assert not LiveSession.objects.filter(title="Recorded optics").exists()
        assert not CallParticipant.objects.filter(source=ParticipantSource.RECORDING).exists()


def hostile_files(tmp_path, videos):
    from inference.gallery_builder import write_video

    good = write_video(tmp_path / "good.mkv", [videos_frame()] * 30, fps=2, keyframe_seconds=2)
    data = good.read_bytes()
    files = {
        "notes.mp4": (b"These are my lesson notes.\n" * 100, "not a video"),
        "lesson.avi": (videos["lesson"].read_bytes(), "MP4, MOV, MKV or WebM"),
        "cut.mkv": (data[: len(data) // 2], "interrupted"),
        "codec.mkv": (data.replace(b"V_MPEG4/ISO/AVC", b"V_XXXXX/ISO/XYZ"), "not supported"),
        "empty.mp4": (b"", None),
    }
    for name, (content, _) in files.items():
        (tmp_path / name).write_bytes(content)
    return {name: (tmp_path / name, words) for name, (_, words) in files.items()}


def videos_frame():
    import numpy as np

    return np.full((180, 320, 3), 90, np.uint8)


def test_hostile_uploads_are_refused_with_a_reason_and_leave_nothing(
    school, client_for, videos, upload_dir, tmp_path, settings
):
    tom = client_for(school.tom)
    for name, (path, words) in hostile_files(tmp_path, videos).items():
        response = upload(tom, school.class_a, path)
        assert response.status_code == 400, name
        if words:
            assert words in response.content.decode(), name
        assert not upload_dir.exists() or list(upload_dir.iterdir()) == [], name
    settings.FERMONITOR_RECORDING_MAX_BYTES = 10_000
    response = upload(tom, school.class_a, videos["lesson"])
    assert response.status_code == 413 and "larger than the limit" in response.content.decode()
    with scopes_disabled():
        assert (
            not RecordingJob.objects.exists()
            and not LiveSession.objects.filter(title="Recorded optics").exists()
        )
    assert not upload_dir.exists() or list(upload_dir.iterdir()) == []


def test_a_recording_without_faces_fails_with_a_reason_and_no_session(school, client_for, videos, upload_dir):
    tom = client_for(school.tom)
    upload(tom, school.class_a, videos["slides"], title="Slides only")
    run_worker()
    job = the_job(title="Slides only")
    assert job.status == RecordingStatus.FAILED and "No face" in job.error and job.session is None
    status = tom.get(reverse("recording_status", args=[job.uuid])).json()
    assert status["status"] == "failed" and "No face" in status["error"]
    assert list(upload_dir.iterdir()) == []
    with scopes_disabled():
        assert not LiveSession.objects.filter(title="Slides only").exists()


def test_a_presence_only_school_gets_presence_only_from_recordings(
    school, client_for, videos, upload_dir, monkeypatch
):
    from inference.classifier import EmotionClassifier

    def forbidden(*args, **kwargs):
        raise AssertionError("the classifier ran for a presence-only school")

    with scopes_disabled():
        school.school_a.presence_only = True
        school.school_a.save()
    monkeypatch.setattr(EmotionClassifier, "classify", forbidden)
    upload(client_for(school.tom), school.class_a, videos["lesson"])
    run_worker()
    job = the_job()
    assert job.presence_only and job.status == RecordingStatus.DONE
    with scopes_disabled():
        samples = EmotionSample.objects.filter(session=job.session)
        assert samples.filter(face_count=1).count() >= 8 * 15
        assert not samples.exclude(emotion="").exists() and not samples.filter(p_happy__isnull=False).exists()


@pytest.mark.parametrize(
    ("who", "status"), [("alice", 200), ("tom", 200), ("tess", 403), ("sam", 403), ("bill", 404)]
)
def test_only_the_class_teacher_and_school_admins_reach_a_class_s_recordings(
    school, client_for, videos, upload_dir, who, status
):
    tom = client_for(school.tom)
    upload(tom, school.class_a, videos["lesson"])
    job = the_job()
    client = client_for(getattr(school, who))
    assert client.get(reverse("recording_upload", args=[school.class_a.uuid])).status_code == status
    assert client.get(reverse("recording_job", args=[job.uuid])).status_code == status
    assert client.get(reverse("recording_status", args=[job.uuid])).status_code == status
    cancel = client.post(reverse("recording_cancel", args=[job.uuid]))
    assert cancel.status_code == (302 if status == 200 else status)
    assert the_job(pk=job.pk).status == (
        RecordingStatus.CANCELLED if status == 200 else RecordingStatus.QUEUED
    )
    if status != 200:
        response = upload(client, school.class_a, videos["lesson"], title="Intruder")
        assert response.status_code == status
        with scopes_disabled():
            assert not RecordingJob.objects.filter(title="Intruder").exists()


def test_anonymous_visitors_are_sent_to_the_login(school, client_for):
    response = client_for(None).get(reverse("recording_upload", args=[school.class_a.uuid]))
    assert response.status_code == 302 and reverse("login") in response.url


def test_without_the_school_s_call_setting_the_upload_is_refused_with_the_reason(
    transactional_cast, client_for, videos, upload_dir
):
    tom = client_for(transactional_cast.tom)
    page = tom.get(reverse("recording_upload", args=[transactional_cast.class_a.uuid]))
    assert page.status_code == 200 and b'id="upload-refused"' in page.content
    assert b'id="recording-form"' not in page.content
    assert upload(tom, transactional_cast.class_a, videos["lesson"]).status_code == 403
    with scopes_disabled():
        assert not RecordingJob.objects.exists()
