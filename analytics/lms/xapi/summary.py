"""What the Integrations page shows of the LRS: the settings and how many statements are where."""

from django.db.models import Count

from ..models import Delivery, DeliveryStatus
from .delivery import LESSON_EVENT
from .models import LrsSettings


def lrs_counts(lrs: LrsSettings | None) -> dict[str, int]:
    """Statements (not lessons waiting to be composed) per status, in one query."""
    counts = dict.fromkeys(DeliveryStatus.values, 0)
    if lrs is None:
        return counts
    rows = (
        Delivery.objects.filter(lrs=lrs)
        .exclude(event=LESSON_EVENT)
        .values("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts.update({row["status"]: row["n"] for row in rows})
    return counts
