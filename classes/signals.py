"""Signals other parts of the product hook into (live streams closing, webhooks), so `services` stays the one
place that changes state."""

from django.dispatch import Signal

# sender=LiveSession class; kwargs: session, previous_status
session_started = Signal()
session_ended = Signal()
session_cancelled = Signal()

# sender=Classroom class; kwargs: request, classroom. A receiver may add a section to the class page by returning
# {"template": name, "context": dict} (the LMS integration's LTI panel), or None.
classroom_page = Signal()
