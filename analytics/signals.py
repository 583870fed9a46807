from django.dispatch import Signal

# kwargs: alert (analytics.models.Alert). Webhooks listen to it.
alert_raised = Signal()
