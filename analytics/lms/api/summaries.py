"""The report data the API serves, in one place: everything comes from `analytics.reports`, which reads the
per-minute roll-ups (never raw samples)."""

from analytics import reports


def session_summary(session) -> dict:
    # The sparklines are a page's drawing aid; the timeline and per-student rows carry the same information.
    return reports.session_summary(session, sparklines=False)


def student_history(student, *, classrooms=None, date_from=None, date_to=None) -> dict:
    return reports.student_history(student, classrooms=classrooms, date_from=date_from, date_to=date_to)


def student_session_series(student, session) -> dict:
    return reports.student_session_series(student, session)
