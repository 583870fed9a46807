from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "analytics.live"
    label = "live"
    verbose_name = "Live sessions"

    def ready(self):
        # Session start/end must reach the live sockets from every process that changes a session's state (a
        # page, the API, a management command), not only from those that happened to import the consumers.
        from . import receivers  # noqa: F401
