"""Who may show fermonitor in a frame.

Every page is DENY by default (X-Frame-Options). An LTI launch happens in the LMS's iframe, so the launch pages
and, for the rest of that session, every page the person opens may be framed by that LMS's web origins (and only
those): `Content-Security-Policy: frame-ancestors 'self' <LMS origins>`, which browsers apply instead of
X-Frame-Options. The origins come from the registration (its issuer, login URL and LMS web address) and from the
signed launch (its return URL and platform URL).
"""

from .. import models

SESSION_KEY = "lti_frame_origins"


def allow_frames(response, origins) -> object:
    safe = sorted({o for o in (models.lti.origin_of(origin) for origin in origins or []) if o})
    response.headers["Content-Security-Policy"] = "frame-ancestors " + " ".join(["'self'", *safe])
    response.xframe_options_exempt = True
    return response


class LtiFrameMiddleware:
    """Sits after XFrameOptionsMiddleware (so it sees the response first) and lets the LMS that launched this
    session frame its pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        # login() and logout() start a new session, so origins found here belong to the launched user's session.
        origins = session.get(SESSION_KEY) if session is not None and session.session_key else None
        if origins and "Content-Security-Policy" not in response.headers:
            allow_frames(response, origins)
        return response
