"""A real Learning Record Store for the tests: ralph (`ralph runserver -b fs`) from its own virtualenv
(.venv-lrs, made by `make lrs`, which `make test` depends on), on a free port, one user (and store) per school.

ralph 5.1's file store refuses a second write (see ralph_site/sitecustomize.py, which makes it append).

Without .venv-lrs the LRS tests fail in CI (CI=true: a missing LRS must not pass as skipped tests) and are
skipped with the reason on a plain `pytest` run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64encode
from pathlib import Path

import pytest

from tests.live.servers import free_port

REPO = Path(__file__).resolve().parents[2]
LRS_BIN = REPO / ".venv-lrs" / "bin"
RALPH = LRS_BIN / "ralph"
MISSING = "The test LRS (ralph) is not installed in .venv-lrs: run `make lrs` (`make test` does it first)."


def require_ralph() -> Path:
    if not RALPH.exists():
        if os.environ.get("CI"):
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    return RALPH


def _ralph_env(root: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE", "REDIS", "RALPH_"))}
    env.update(
        RALPH_AUTH_FILE=str(root / "auth.json"),
        RALPH_RUNSERVER_BACKEND="fs",
        RALPH_APP_DIR=str(root),
        PYTHONPATH=str(Path(__file__).with_name("ralph_site")),
        PYTHONUNBUFFERED="1",
    )
    return env


_AUTH_SCRIPT = """
import bcrypt, json, sys
users = json.loads(sys.argv[1])
print(json.dumps([
    {
        "agent": {"objectType": "Agent", "account": {"homePage": "https://lrs.test", "name": name}},
        "scopes": ["all"],
        "target": name,
        "hash": bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode(),
        "username": name,
    }
    for name, password in users.items()
]))
"""


class Ralph:
    """`with Ralph(tmp_path, {"alpha": "secret"}) as lrs:` serves an LRS; each user has its own store."""

    def __init__(self, root: Path, users: dict[str, str], port: int | None = None):
        self.root = root
        self.users = users
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self.data = root / "data"
        self.cwd = root / "cwd"  # runserver watches its working directory for reloads: keep it empty
        for path in (self.data, self.cwd, *(self.data / name for name in users)):
            path.mkdir(parents=True, exist_ok=True)
        auth = subprocess.run(
            [str(LRS_BIN / "python"), "-c", _AUTH_SCRIPT, json.dumps(users)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        (root / "auth.json").write_text(auth.stdout)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/xAPI/"

    def start(self) -> Ralph:
        self.log = open(self.root / f"ralph-{self.port}.log", "a")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                str(require_ralph()),
                "runserver",
                "-b",
                "fs",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "--fs-default-directory-path",
                str(self.data),
            ],
            cwd=self.cwd,
            env=_ralph_env(self.root),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # runserver starts a reloader and a server: stop both as a group
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"ralph exited early:\n{(self.root / f'ralph-{self.port}.log').read_text()}"
                )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/__heartbeat__", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("ralph did not come up within 90 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process is not None:
            self.log.close()
        self.process = None

    def __enter__(self) -> Ralph:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- reading back, as the school's analysts would ------------------------------------------------------

    def _get(self, user: str, path: str) -> tuple[int, object]:
        token = b64encode(f"{user}:{self.users[user]}".encode()).decode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            headers={"Authorization": f"Basic {token}", "X-Experience-API-Version": "1.0.3"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def statement(self, user: str, statement_id: str) -> dict | None:
        status, body = self._get(user, f"/xAPI/statements?statementId={statement_id}")
        if status == 404:
            return None
        assert status == 200, body
        if isinstance(body, dict) and "statements" in body:  # ralph wraps a single statement in a result
            found = body["statements"]
            assert len(found) <= 1
            return found[0] if found else None
        return body

    def statements(self, user: str, **filters) -> list[dict]:
        """Every statement the LRS returns for the filters, following `more` pages."""
        query = urllib.parse.urlencode({**filters, "limit": 100})
        path = f"/xAPI/statements?{query}"
        found = []
        while path:
            status, body = self._get(user, path)
            assert status == 200, body
            found.extend(body["statements"])
            path = body.get("more") or ""
        return found

    def stored_lines(self, user: str) -> list[dict]:
        """Everything in the user's store, one line per stored statement: a duplicate would show here."""
        store = self.data / user / "fs_lrs.jsonl"
        if not store.exists():
            return []
        return [json.loads(line) for line in store.read_text().splitlines() if line.strip()]


_VALIDATE_SCRIPT = """
import json, sys
from pydantic import ValidationError
from ralph.models.xapi.base.statements import BaseXapiStatement
problems = []
for n, statement in enumerate(json.load(sys.stdin)):
    try:
        BaseXapiStatement.model_validate(statement)
    except ValidationError as error:
        problems.append(f"{n} {statement.get('verb', {}).get('id')}: {error}")
print(json.dumps(problems))
"""


def ralph_problems(statements: list[dict]) -> list[str]:
    """What ralph's pydantic model of an xAPI statement (a maintained implementation of the spec) says about
    each statement; [] when all are valid."""
    require_ralph()
    done = subprocess.run(
        [str(LRS_BIN / "python"), "-c", _VALIDATE_SCRIPT],
        input=json.dumps(statements),
        capture_output=True,
        text=True,
        timeout=120,
        env=_ralph_env(Path("/tmp")),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
