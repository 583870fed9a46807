"""The former name of `deliver_outbox` (kept so existing cron lines and process managers keep working)."""

from .deliver_outbox import Command as DeliverOutbox


class Command(DeliverOutbox):
    help = "Same as deliver_outbox: send the webhook events and xAPI statements that are due."
