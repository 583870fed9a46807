"""A lesson that ends (sent by `classes.services` on commit, from whichever process ended it) is queued for its
statements."""

import logging

from django.dispatch import receiver

from classes import signals

logger = logging.getLogger(__name__)


@receiver(signals.session_ended, dispatch_uid="xapi-session-ended")
def _on_session_ended(sender, session, **kwargs):
    from . import services

    try:
        services.lesson_ended(session)
    except Exception:  # statements must never break ending a lesson; `xapi_backfill` can queue it later
        logger.exception("Could not queue the xAPI statements of session %s", session.pk)
