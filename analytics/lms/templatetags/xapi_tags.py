"""`{% lrs_summary %}` renders the LRS box of the Integrations page (templates/api/_lrs.html) from the request's
school, so the page's own view needs no change for it."""

from django import template

from analytics.lms.xapi.models import LrsSettings
from analytics.lms.xapi.summary import lrs_counts

register = template.Library()


@register.inclusion_tag("api/_lrs.html", takes_context=True)
def lrs_summary(context):
    school = context["request"].user.school
    lrs = LrsSettings.objects.filter(school=school).first() if school else None
    return {"lrs": lrs, "counts": lrs_counts(lrs), "request": context["request"]}
