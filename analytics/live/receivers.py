"""Session start/end (sent by `classes.services` on commit) and participant assignments (sent by
`analytics.services` on commit) reach every process's hub through the channel layer."""

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.dispatch import receiver

from analytics import signals as analytics_signals
from classes import signals

from .hub import group_name

logger = logging.getLogger(__name__)

# Shorter than the hubs' bound on a layer call: a Redis that accepts but never answers must not hold up the
# teacher's request that ends the session.
BROADCAST_TIMEOUT_SECONDS = 5


async def _group_send(layer, group: str, message: dict) -> None:
    async with asyncio.timeout(BROADCAST_TIMEOUT_SECONDS):
        await layer.group_send(group, message)


def _broadcast(session, kind: str, **fields) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(_group_send)(layer, group_name(session.pk), {"type": kind, **fields})
    except Exception as error:
        # The state change is committed. Hubs that miss it re-read the session's status while the layer is
        # away and again once it is back (analytics.live.hub), and a page re-reads it on reload.
        logger.warning(
            "Could not broadcast %s for session %s (%s: %s)", kind, session.pk, type(error).__name__, error
        )


@receiver(signals.session_ended, dispatch_uid="live-session-ended")
def close_streams_when_session_ends(sender, session, **kwargs):
    _broadcast(session, "session.ended")


@receiver(signals.session_started, dispatch_uid="live-session-started")
def tell_dashboards_session_started(sender, session, **kwargs):
    _broadcast(session, "session.started")


@receiver(analytics_signals.participant_assigned, dispatch_uid="live-participant-assigned")
def rename_participant_cards(sender, participant, **kwargs):
    _broadcast(
        participant.session,
        "live.participant",
        participant_id=participant.pk,
        student_id=participant.student_id,
        name=participant.label,
    )
