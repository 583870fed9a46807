"""`{% lti_integrations %}`: the LTI section of the Integrations page (kept out of the page's view so each
integration adds its section without touching the others)."""

from django import template
from django.conf import settings

from ..lti import keys, services
from ..models import LtiRegistration

register = template.Library()


@register.inclusion_tag("api/_lti.html", takes_context=True)
def lti_integrations(context):
    request = context["request"]
    school = request.user.school
    registrations = list(LtiRegistration.objects.filter(school=school).order_by("name", "created_at"))
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "registrations": [(r, services.tool_urls(request, r)) for r in registrations],
        "keys": keys.published_keys(school) if registrations else [],
        "frame_cookies": getattr(settings, "SESSION_COOKIE_SAMESITE", "Lax") == "None",
    }
