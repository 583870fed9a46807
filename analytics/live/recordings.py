"""Recorded lessons: upload, the background analysis, progress, cancel, and recovery of interrupted jobs.

A teacher uploads a recording of a lesson's video call to a class. `create_job` checks it at once (`inference.video.
probe`: a video, a codec we decode, not cut short, an accepted container) so that a bad file is refused on the spot
and nothing is kept; a good one is saved in the recordings folder (never served) and a `RecordingJob` is queued on
the django-tasks database backend (`tasks.analyse_recording`, run by `manage.py db_worker`).

`run_job` samples the video at `FERMONITOR_RECORDING_FPS` with `inference.video.analyze_video` (the gallery
analysis and participant tracking of the live capture), keeps the results in memory, deletes the file as soon as the
video is read, and then stores everything in one transaction: an ENDED session of the class whose time axis is the
video's (it starts at the upload's chosen start; a sample at t seconds of video is stored at start + t), the call
participants and their samples (`analytics.services`, as the live capture stores them). A job that fails or is
cancelled deletes its file and leaves no session.

Exactly once, across worker restarts: a task carries the job's `attempt` number from when it was queued. Taking
the job bumps it (one conditional UPDATE, so two tasks for one job cannot both run it); heartbeats and the final
write check it, so a worker that lost the job (cancelled, or re-queued because it stopped sending heartbeats) stops
without writing anything. A worker stopped by a signal re-queues its job itself; one that died without a word is
found by `recover_stale_jobs` (run by `make run` before the worker starts, and by the progress endpoint while
someone watches a stalled job) once its heartbeat is `FERMONITOR_RECORDING_STALE_SECONDS` old.
"""

import logging
import os
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django_scopes import scopes_disabled

from analytics import services as analytics_services
from analytics.models import ParticipantSource
from classes import signals as class_signals
from classes.models import Classroom, LiveSession, SessionStatus, User
from classes.tenancy import school_scope

from .capture import PARTICIPANT_GONE_SECONDS
from .models import RecordingJob, RecordingStatus

logger = logging.getLogger(__name__)

ACCEPTED_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm"}
HEARTBEAT_SECONDS = 1.0

# inference.video's errors, by code, in words for the teacher (inference itself has no translations).
VIDEO_ERRORS = {
    "not_a_video": gettext_lazy("This file is not a video (or has no picture, only sound)."),
    "unsupported_codec": gettext_lazy(
        "The video's codec is not supported. Export the recording as MP4 (H.264) and upload it again."
    ),
    "truncated_video": gettext_lazy(
        "The video is incomplete or damaged (was the upload or the recording interrupted?)."
    ),
}


def video_error_message(error) -> str:
    return str(VIDEO_ERRORS.get(getattr(error, "code", ""), error))


class UploadRefused(Exception):
    """Why an upload was not accepted; `message` is for the teacher."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def recordings_dir() -> Path:
    folder = Path(settings.FERMONITOR_RECORDINGS_DIR)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def upload_refusal(user: User, classroom: Classroom) -> str:
    """Why `user` may not upload recordings to this class right now ("" if they may). The view has already
    checked that they manage the class."""
    if not classroom.school.call_capture:
        return gettext(
            "Your school has not turned on reading video calls, which covers recordings of them. A school admin "
            "can turn it on in the school settings."
        )
    return ""


def create_job(
    classroom: Classroom, user: User, upload, *, title: str, starts_at: datetime | None
) -> RecordingJob:
    """Save and check an uploaded recording (a Django `UploadedFile`), and queue its analysis. Raises
    `UploadRefused` for a bad file, leaving nothing behind."""
    from inference.errors import VideoError
    from inference.video import RECORDING_FORMATS, probe

    suffix = Path(upload.name or "").suffix.lower()
    if suffix not in ACCEPTED_SUFFIXES:
        raise UploadRefused(
            "format",
            gettext("Upload an MP4, MOV, MKV or WebM video (this file is “%(name)s”).")
            % {"name": upload.name},
        )
    if upload.size > settings.FERMONITOR_RECORDING_MAX_BYTES:
        raise UploadRefused("too_large", too_large_message())
    job = RecordingJob(
        classroom=classroom,
        uploaded_by=user,
        title=title,
        starts_at=starts_at or timezone.now(),
        original_name=Path(upload.name).name[:255],
        size=upload.size,
        presence_only=classroom.school.presence_only,
    )
    job.file_name = f"{job.uuid}{suffix}"
    path = recordings_dir() / job.file_name
    try:
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        try:
            info = probe(path)
        except VideoError as error:
            raise UploadRefused(error.code, video_error_message(error)) from error
        if info.container not in RECORDING_FORMATS:
            raise UploadRefused("format", gettext("Upload an MP4, MOV, MKV or WebM video."))
        job.duration = info.duration
        job.frames_total = info.samples(settings.FERMONITOR_RECORDING_FPS)
        with transaction.atomic():
            job.save()
            transaction.on_commit(lambda: enqueue(job.pk, job.attempt))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return job


def too_large_message() -> str:
    limit = settings.FERMONITOR_RECORDING_MAX_BYTES / 1024**3
    return gettext("The recording is larger than the limit of %(limit).1f GB.") % {"limit": limit}


def enqueue(job_id: int, ticket: int) -> None:
    from .tasks import analyse_recording

    analyse_recording.enqueue(job_id, ticket)


# --- the job ------------------------------------------------------------------------------------------------


class _LostJob(Exception):
    """The job was cancelled or taken over by another worker while this one ran it."""


@dataclass
class _Instant:
    t: float
    faces: list[tuple[int, tuple[float, ...] | None]]  # (tracker number, probabilities)


def run_job(job_id: int, ticket: int, *, engine=None, progress_hook=None) -> str:
    """The task's body: analyse and store one recording (see the module docstring). Returns what happened
    ("done", "failed", "cancelled", "skipped"). progress_hook(job) is called after each heartbeat (tests use it
    to interrupt or cancel a job mid-way)."""
    now = timezone.now()
    with scopes_disabled():
        claimed = RecordingJob.objects.filter(
            pk=job_id, status=RecordingStatus.QUEUED, attempt=ticket
        ).update(
            status=RecordingStatus.RUNNING,
            attempt=F("attempt") + 1,
            heartbeat_at=now,
            started_at=now,
            frames_done=0,
            faces_found=0,
            seconds_left=None,
        )
        if not claimed:
            return "skipped"  # cancelled, done, or a stale task for a job that was queued again
        job = RecordingJob.objects.select_related("classroom__school").get(pk=job_id)
    attempt = job.attempt
    path = recordings_dir() / job.file_name if job.file_name else None
    outcome = "failed"
    try:
        with school_scope(job.classroom.school_id):
            if path is None or not path.is_file():
                _finish(
                    job,
                    attempt,
                    RecordingStatus.FAILED,
                    gettext("The uploaded file is gone; upload it again."),
                )
                return "failed"
            instants = _analyse(job, attempt, path, engine, progress_hook)
            path.unlink(missing_ok=True)  # read to the end: not needed any more
            if not any(instant.faces for instant in instants):
                _finish(
                    job,
                    attempt,
                    RecordingStatus.FAILED,
                    gettext("No face was found in the recording. Was the call's gallery view on screen?"),
                )
                return "failed"
            _store(job, attempt, instants)
            outcome = "done"
            return outcome
    except _LostJob:
        if _status_of(job_id) == RecordingStatus.CANCELLED:
            outcome = "cancelled"
            return outcome
        outcome = "taken over"  # another worker has the job now, and needs the file
        return "skipped"
    except (KeyboardInterrupt, SystemExit):
        # The worker is being stopped: hand the job back to the queue, keeping its file, and let the worker exit.
        _requeue(job_id, attempt)
        outcome = "requeued"
        raise
    except Exception as error:
        from inference.errors import VideoError

        if isinstance(error, VideoError):
            message = video_error_message(error)
        else:
            logger.exception("Recording job %s failed", job_id)
            message = gettext(
                "The analysis failed unexpectedly. Try again, or export the recording as MP4 (H.264)."
            )
        try:
            with school_scope(job.classroom.school_id):
                _finish(job, attempt, RecordingStatus.FAILED, message)
        except _LostJob:
            outcome = "taken over"
            return "skipped"
        return "failed"
    finally:
        if outcome not in ("requeued", "taken over") and path is not None:
            path.unlink(missing_ok=True)


def _analyse(job: RecordingJob, attempt: int, path: Path, engine, progress_hook) -> list[_Instant]:
    from inference.video import analyze_video

    if engine is None:
        from . import pipeline

        engine = pipeline.engine()
    fps = settings.FERMONITOR_RECORDING_FPS
    instants: list[_Instant] = []
    started = time.monotonic()
    last_beat = 0.0
    analysis = analyze_video(path, fps, engine, emotions=not job.presence_only)
    try:
        for sample in analysis:
            instants.append(
                _Instant(sample.t, [(face.participant, face.probabilities) for face in sample.faces])
            )
            now = time.monotonic()
            if now - last_beat >= HEARTBEAT_SECONDS:
                last_beat = now
                done = len(instants)
                total = max(job.frames_total, done)
                left = (now - started) / done * (total - done)
                _beat(job, attempt, done, total, sum(len(i.faces) for i in instants), left)
                if progress_hook is not None:
                    progress_hook(job)
    finally:
        analysis.close()
    return instants


def _beat(job: RecordingJob, attempt: int, done: int, total: int, faces: int, left: float) -> None:
    """Progress and the heartbeat in one conditional UPDATE; raises `_LostJob` if the job is no longer ours."""
    updated = RecordingJob.objects.filter(pk=job.pk, attempt=attempt, status=RecordingStatus.RUNNING).update(
        frames_done=done,
        frames_total=total,
        faces_found=faces,
        seconds_left=left,
        heartbeat_at=timezone.now(),
    )
    if not updated:
        raise _LostJob()


def _store(job: RecordingJob, attempt: int, instants: list[_Instant]) -> None:
    """The session, its participants and samples, and the job's DONE mark, all or nothing."""
    start = job.starts_at
    with transaction.atomic():
        locked = RecordingJob.objects.select_for_update().filter(
            pk=job.pk, attempt=attempt, status=RecordingStatus.RUNNING
        )
        if not locked.exists():
            raise _LostJob()
        session = LiveSession.objects.create(
            classroom_id=job.classroom_id,
            title=job.title,
            scheduled_start=start,
            planned_duration=timedelta(seconds=max(1.0, job.duration)),
            status=SessionStatus.ENDED,
            started_at=start,
            ended_at=start + timedelta(seconds=job.duration),
        )
        offset = analytics_services.participant_number_offset(session.pk)
        first_seen: dict[int, float] = {}
        for instant in instants:
            for number, _ in instant.faces:
                first_seen.setdefault(number, instant.t)
        by_time: dict[float, list[int]] = defaultdict(list)
        for number, t in first_seen.items():
            by_time[t].append(offset + number)
        participants = {}
        for t, numbers in sorted(by_time.items()):
            participants.update(
                analytics_services.ensure_participants(
                    session.pk,
                    numbers,
                    source=ParticipantSource.RECORDING,
                    seen_at=start + timedelta(seconds=t),
                )
            )
        records = []
        last_face: dict[int, float] = {}
        for instant in instants:
            at = start + timedelta(seconds=instant.t)
            present = set()
            for number, probabilities in instant.faces:
                participant = participants[offset + number]
                present.add(number)
                last_face[number] = instant.t
                records.append(
                    analytics_services.SampleRecord(
                        session.pk, None, at, 1, probabilities, participant_id=participant.pk
                    )
                )
            # Still in the call, face not visible (as the live capture stores them), until they count as gone.
            for number, seen in last_face.items():
                if number not in present and instant.t - seen <= PARTICIPANT_GONE_SECONDS:
                    records.append(
                        analytics_services.SampleRecord(
                            session.pk, None, at, 0, None, participant_id=participants[offset + number].pk
                        )
                    )
        analytics_services.record_samples(records)
        locked.update(
            status=RecordingStatus.DONE,
            session=session,
            file_name="",
            frames_done=len(instants),
            frames_total=len(instants),
            faces_found=sum(len(instant.faces) for instant in instants),
            seconds_left=0,
            finished_at=timezone.now(),
        )
        transaction.on_commit(lambda: class_signals.session_ended.send(LiveSession, session=session))


def _finish(job: RecordingJob, attempt: int, status: str, error: str = "") -> None:
    updated = RecordingJob.objects.filter(pk=job.pk, attempt=attempt, status=RecordingStatus.RUNNING).update(
        status=status, error=error[:300], file_name="", finished_at=timezone.now(), seconds_left=None
    )
    if not updated:
        raise _LostJob()


def _requeue(job_id: int, attempt: int) -> None:
    with scopes_disabled():
        requeued = RecordingJob.objects.filter(
            pk=job_id, attempt=attempt, status=RecordingStatus.RUNNING
        ).update(status=RecordingStatus.QUEUED, heartbeat_at=None, seconds_left=None)
    if requeued:
        enqueue(job_id, attempt)


def _status_of(job_id: int) -> str:
    with scopes_disabled():
        return RecordingJob.objects.filter(pk=job_id).values_list("status", flat=True).first() or ""


# --- teacher actions, progress, recovery ---------------------------------------------------------------------


def cancel_job(job: RecordingJob) -> bool:
    """Cancel a queued or running job and delete its file; False if it had already ended."""
    cancelled = RecordingJob.objects.filter(
        pk=job.pk, status__in=[RecordingStatus.QUEUED, RecordingStatus.RUNNING]
    ).update(status=RecordingStatus.CANCELLED, finished_at=timezone.now(), seconds_left=None, file_name="")
    if cancelled and job.file_name:
        (recordings_dir() / job.file_name).unlink(
            missing_ok=True
        )  # a running worker's open handle still reads
    job.refresh_from_db()
    return bool(cancelled)


def recover_stale_jobs(now: datetime | None = None, job: RecordingJob | None = None) -> list[int]:
    """Re-queue running jobs whose worker stopped sending heartbeats (killed, machine restarted); returns their ids.
    Limited to `job` when given (the progress endpoint)."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.FERMONITOR_RECORDING_STALE_SECONDS)
    requeued = []
    with scopes_disabled():
        stale = RecordingJob.objects.filter(status=RecordingStatus.RUNNING, heartbeat_at__lt=cutoff)
        if job is not None:
            stale = stale.filter(pk=job.pk)
        for pk, attempt in stale.values_list("pk", "attempt"):
            if RecordingJob.objects.filter(pk=pk, attempt=attempt, status=RecordingStatus.RUNNING).update(
                status=RecordingStatus.QUEUED, heartbeat_at=None, seconds_left=None
            ):
                enqueue(pk, attempt)
                requeued.append(pk)
    if requeued:
        logger.warning("Re-queued recording jobs whose worker stopped: %s", requeued)
    return requeued


def progress(job: RecordingJob) -> dict:
    """What the job page shows (small JSON)."""
    data = {
        "status": job.status,
        "label": job.get_status_display(),
        "percent": job.percent,
        "frames_done": job.frames_done,
        "frames_total": job.frames_total,
        "faces": job.faces_found,
        "seconds_left": None if job.seconds_left is None else round(job.seconds_left),
        "error": job.error,
        "report_url": reverse("session_report", args=[job.session.uuid]) if job.session_id else None,
    }
    return data
