from django.apps import AppConfig


class LmsConfig(AppConfig):
    name = "analytics.lms"
    label = "lms"
    verbose_name = "LMS integration"

    def ready(self):
        # Webhooks and xAPI hear session start/end and alerts from every process (web, workers, commands).
        from . import receivers  # noqa: F401
        from .lti import receivers as lti_receivers  # noqa: F401
        from .xapi import receivers as xapi_receivers  # noqa: F401
