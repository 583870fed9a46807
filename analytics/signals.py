from django.dispatch import Signal

# kwargs: alert (analytics.models.Alert). Webhooks listen to it.
alert_raised = Signal()

# kwargs: participant (analytics.models.CallParticipant, with `student` set or None). Sent on commit of an
# assignment; live dashboards rename the participant's card.
participant_assigned = Signal()
