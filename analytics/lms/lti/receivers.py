"""LTI hears two things from below: a class page being drawn (it adds the LMS course panel) and a lesson ending
(it sends attendance to the LMS gradebook where the class asked for it)."""

import logging

from django.dispatch import receiver

from classes import signals
from classes.tenancy import school_scope

logger = logging.getLogger(__name__)


@receiver(signals.classroom_page, dispatch_uid="lti-classroom-panel")
def _class_panel(sender, request, classroom, **kwargs):
    from . import services

    panel = services.class_panel(classroom)
    return {"template": "lti/_class_panel.html", "context": panel} if panel else None


@receiver(signals.session_ended, dispatch_uid="lti-attendance-after-lesson")
def _attendance_after_lesson(sender, session, **kwargs):
    from . import services

    try:
        with school_scope(session.classroom.school_id):
            services.attendance_after_lesson(session)
    except Exception:  # ending a lesson never fails because of the LMS
        logger.exception("Could not queue attendance for session %s", session.pk)
