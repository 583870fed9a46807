"""Events that reach webhooks: session start/end (sent by `classes.services` on commit) and raised alerts."""

from django.dispatch import receiver

from analytics.signals import alert_raised
from classes import signals


@receiver(signals.session_started, dispatch_uid="webhooks-session-started")
def _on_session_started(sender, session, **kwargs):
    from . import webhooks

    webhooks._safely(webhooks.session_started, session)


@receiver(signals.session_ended, dispatch_uid="webhooks-session-ended")
def _on_session_ended(sender, session, **kwargs):
    from . import webhooks

    webhooks._safely(webhooks.session_ended, session)


@receiver(alert_raised, dispatch_uid="webhooks-alert-raised")
def _on_alert_raised(sender, alert, **kwargs):
    from . import webhooks

    webhooks._safely(webhooks.alert_raised, alert)
