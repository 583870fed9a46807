"""Pages of recorded lessons: upload to a class, the job's live progress (polled JSON), cancel."""

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from classes.access import can_manage_classroom, get_classroom_for_user, role_required
from classes.models import Role

from . import recordings
from .models import RecordingJob

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class RecordingUploadForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)
    starts_at = forms.DateTimeField(
        label=gettext_lazy("The lesson began at"),
        required=False,
        input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
        help_text=gettext_lazy("Optional: the report's time axis starts here (default: now)."),
    )
    recording = forms.FileField(
        label=gettext_lazy("Recording"),
        widget=forms.ClearableFileInput(attrs={"accept": ".mp4,.mov,.mkv,.webm,video/*"}),
        help_text=gettext_lazy(
            "MP4, MOV, MKV or WebM, as Zoom, Meet or Teams save it, with the gallery view."
        ),
    )


def get_job_for_user(user, job_uuid) -> RecordingJob:
    """A recording job the user may see: the class's teacher and the school's admins (other school: 404)."""
    job = get_object_or_404(
        RecordingJob.objects.select_related("classroom__school", "session"), uuid=job_uuid
    )
    if not can_manage_classroom(user, job.classroom):
        raise PermissionDenied(
            gettext("Only the class's teacher and the school's admins see its recordings.")
        )
    return job


@role_required(Role.TEACHER, Role.ADMIN)
def upload(request, classroom_uuid):
    classroom = get_classroom_for_user(request.user, classroom_uuid, manage=True)
    refusal = recordings.upload_refusal(request.user, classroom)
    form = RecordingUploadForm()
    status = 200
    if request.method == "POST":
        if refusal:
            raise PermissionDenied(refusal)
        # Refuse an oversized upload from its header, before its body is read into a temporary file.
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > settings.FERMONITOR_RECORDING_MAX_BYTES + 1024 * 1024:
            form.add_error(None, recordings.too_large_message())
            status = 413
        else:
            form = RecordingUploadForm(request.POST, request.FILES)
            status = 400
            if form.is_valid():
                try:
                    job = recordings.create_job(
                        classroom,
                        request.user,
                        form.cleaned_data["recording"],
                        title=form.cleaned_data["title"],
                        starts_at=form.cleaned_data["starts_at"],
                    )
                except recordings.UploadRefused as refused:
                    form.add_error("recording", refused.message)
                    status = 413 if refused.code == "too_large" else 400
                else:
                    return redirect("recording_job", job_uuid=job.uuid)
    jobs = RecordingJob.objects.filter(classroom=classroom).select_related("session")[:10]
    context = {"classroom": classroom, "form": form, "refusal": refusal, "jobs": jobs}
    return render(request, "recordings/upload.html", context, status=status)


@require_GET
@role_required(Role.TEACHER, Role.ADMIN)
def job_page(request, job_uuid):
    job = get_job_for_user(request.user, job_uuid)
    return render(request, "recordings/job.html", {"job": job, "progress": recordings.progress(job)})


@require_GET
@role_required(Role.TEACHER, Role.ADMIN)
def job_status(request, job_uuid):
    job = get_job_for_user(request.user, job_uuid)
    if job.status == "running" and recordings.recover_stale_jobs(job=job):
        job.refresh_from_db()
    return JsonResponse(recordings.progress(job))


@require_POST
@role_required(Role.TEACHER, Role.ADMIN)
def job_cancel(request, job_uuid):
    job = get_job_for_user(request.user, job_uuid)
    recordings.cancel_job(job)
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse(recordings.progress(job))
    return redirect("recording_job", job_uuid=job.uuid)
