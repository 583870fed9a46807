"""`manage.py simulate_class`: a simulated class streams real face photos into the demo's live lesson (started by
`make run` beside the server; DEMO_SIM=0 leaves it out). Stops on Ctrl+C / SIGTERM, when the server goes away, or
when the lesson ends."""

import asyncio
import os
import signal
import urllib.request

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.core.management.base import BaseCommand, CommandError
from django_scopes import scopes_disabled

from analytics.live.simulation import Joiner, SimulatedClass, wait_for_server
from classes import services
from classes.models import LiveSession, School, SessionStatus
from classes.tenancy import school_scope
from inference.sample_faces import face_photos

SERVER_GONE_AFTER_S = 15


def login_cookie(user) -> str:
    """A session cookie for the user, as logging in would give (no password needed: demo students)."""
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


class Command(BaseCommand):
    help = "Stream a simulated class (real face photos) into the demo school's live lesson until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running server")
        parser.add_argument("--slug", default="demo-school", help="the demo school's slug")
        parser.add_argument("--lesson", default="demo-live", help="LMS id of the live lesson to stream into")
        parser.add_argument(
            "--seconds", type=float, default=None, help="stop after this long (default: never)"
        )
        parser.add_argument("--wait", type=float, default=120, help="seconds to wait for the server to start")

    def handle(self, *args, url, slug, lesson, seconds, wait, **options):
        if not wait_for_server(url, wait):
            raise CommandError(f"No server answered at {url} within {wait:g} s")
        session, joiners = self._class(slug, lesson)
        photos = face_photos()
        if not photos:
            raise CommandError(
                "No face photos: neither the shared folder nor matplotlib's sample photo is there"
            )
        self.stdout.write(
            f"Simulated class: {len(joiners)} students stream {len(photos)} photo(s) into "
            f"'{session.title}' ({session.classroom.name}); dashboard: {url.rstrip('/')}/live/{session.uuid}/dashboard/"
        )
        simulated = SimulatedClass(url, str(session.uuid), joiners, photos)
        asyncio.run(self._run(simulated, url, seconds))
        self.stdout.write(f"Simulated class stopped after {simulated.frames_sent} analysed frames.")

    def _class(self, slug, lesson):
        with scopes_disabled():
            school = School.objects.filter(slug=slug).first()
        if school is None:
            raise CommandError(f"No school '{slug}': run `python manage.py seed_demo` first")
        with school_scope(school):
            session = (
                LiveSession.objects.filter(classroom__school=school, lms_id=lesson, status=SessionStatus.LIVE)
                .select_related("classroom")
                .order_by("classroom_id")  # the demo's first class (Physics 10A)
                .first()
            )
            if session is None:
                raise CommandError(f"{school.name} has no live lesson '{lesson}' (it may have been ended)")
            students = [s for s in session.classroom.students.order_by("pk") if services.has_consent(s)]
            joiners = [Joiner(s.pk, login_cookie(s)) for s in students]
        return session, joiners

    async def _run(self, simulated: SimulatedClass, url: str, seconds: float | None) -> None:
        loop = asyncio.get_running_loop()
        # Explicit handlers: a shell starts background jobs with SIGINT ignored, and Ctrl+C must still stop us.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, simulated.stop)
        watcher = asyncio.create_task(self._watch(simulated, url))
        try:
            await simulated.run(seconds)
        finally:
            watcher.cancel()

    async def _watch(self, simulated: SimulatedClass, url: str) -> None:
        """Stop when the server is gone for a while or whoever started us has exited."""
        parent = os.getppid()
        down_since = None
        loop = asyncio.get_running_loop()
        while not simulated.stopping.is_set():
            await asyncio.sleep(1)
            if os.getppid() != parent:
                simulated.stop()
            up = await loop.run_in_executor(None, _answers, url)
            down_since = None if up else (down_since or loop.time())
            if down_since is not None and loop.time() - down_since > SERVER_GONE_AFTER_S:
                simulated.stop()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
