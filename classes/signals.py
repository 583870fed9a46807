"""Signals other parts of the product hook into (live streams closing, webhooks), so `services` stays the one
place that changes state."""

from django.dispatch import Signal

# sender=LiveSession class; kwargs: session, previous_status
session_started = Signal()
session_ended = Signal()
session_cancelled = Signal()
