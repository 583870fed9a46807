"""Session start/end (sent by `classes.services` on commit) reach every process's hub through the channel layer."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.dispatch import receiver

from .. import signals
from .hub import group_name

logger = logging.getLogger(__name__)


def _broadcast(session, kind: str) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_name(session.pk), {"type": kind})
    except Exception:  # the state change is committed; a live view that misses it re-reads it on reload
        logger.exception("Could not broadcast %s for session %s", kind, session.pk)


@receiver(signals.session_ended, dispatch_uid="live-session-ended")
def close_streams_when_session_ends(sender, session, **kwargs):
    _broadcast(session, "session.ended")


@receiver(signals.session_started, dispatch_uid="live-session-started")
def tell_dashboards_session_started(sender, session, **kwargs):
    _broadcast(session, "session.started")
