from datetime import datetime

from django import template
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

register = template.Library()


@register.filter
def pct(value, digits=0):
    """0.237 -> '24%'; None -> an en dash (no data)."""
    if value is None or value == "":
        return "–"
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def signed(value, digits=2):
    if value is None:
        return "–"
    return f"{float(value):+.{int(digits)}f}"


@register.filter
def pct_change(value):
    """A change of a share, in percentage points."""
    if value is None:
        return "–"
    return f"{float(value) * 100:+.0f} pts"


@register.filter
def get(mapping, key):
    return (mapping or {}).get(key)


@register.filter
def as_datetime(value):
    """An ISO string from a report dict (a datetime or a date), as an object for the date filter."""
    if isinstance(value, datetime) or value is None:
        return value
    return parse_datetime(value) or parse_date(value)


@register.filter
def emotion_label(value):
    """An emotion's name as people read it, in the active language ("happy" -> "Happy")."""
    from analytics.models import Emotion

    try:
        return Emotion(value).label
    except ValueError:
        return value


@register.filter
def emotion_labels(values):
    return [emotion_label(value) for value in values]


TREND_LABELS = {
    "not enough sessions": _("not enough sessions"),
    "more negative": _("more negative"),
    "less negative": _("less negative"),
    "steady": _("steady"),
}


@register.filter
def trend_label(value):
    """The direction of a student's trend (a report value) in the active language."""
    return TREND_LABELS.get(value, value)
