"""Background tasks of the live app (django-tasks; the database backend's `manage.py db_worker` runs them)."""

from django_tasks import task


@task()
def analyse_recording(job_id: int, ticket: int) -> str:
    """Analyse an uploaded recording (`recordings.run_job`); `ticket` is the job's attempt number when queued."""
    from .recordings import run_job

    return run_job(job_id, ticket)
