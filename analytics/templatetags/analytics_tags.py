from datetime import datetime

from django import template
from django.utils.dateparse import parse_date, parse_datetime

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
