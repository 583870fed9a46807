"""Property-based run of the whole OpenAPI document (schemathesis) against the app, in-process over WSGI.

Two runs over every operation: with school A's read-write key, and with school B's key. Per operation: schema-valid
cases, schema-invalid ones (which must get a 4xx), and, where the path names objects, schema-valid cases with
real school A ids in the path, so success paths with real data are checked too; in the school B run those must
be 404, whatever the method or the body. Every response must be a non-5xx, documented status whose body and
headers match the schema.

    .venv/bin/pytest tests/api/test_schemathesis.py -m slow -s     # prints operations, cases and failures
"""

from pathlib import Path

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from .conftest import issue_keys, record_lesson

pytestmark = pytest.mark.slow

# Per operation and run: schema-valid cases, then schema-invalid ones (which must be refused with a 4xx).
EXAMPLES = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 10}
# The schema cannot say "the teacher must exist in your school": a 400 for an unknown related id in a
# schema-valid body is the right answer, so schemathesis' "valid data must be accepted" check does not apply.
EXCLUDED_CHECKS = [schemathesis.checks.positive_data_acceptance]


@pytest.fixture
def world(cast, settings):
    settings.FERMONITOR_API_RATE = "100000/minute"
    # The WSGI handler would close the test's connection (and its transaction) after each request, as it does
    # between real requests; the test client avoids that the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    cast.keys = issue_keys(cast)
    record_lesson(cast.a_ended, [cast.sam, cast.nora], minutes=2)
    yield cast
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def real_ids(cast) -> dict:
    return {
        "class_uuid": str(cast.class_a.uuid),
        "student_uuid": str(cast.sam.uuid),
        "teacher_uuid": str(cast.tom.uuid),
        "session_uuid": str(cast.a_ended.uuid),
    }


def fuzz(cast, raw_key: str, *, other_school: bool) -> dict:
    """Run every operation; returns {"operations", "cases", "failures": [(operation, error)]}."""
    api = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", WSGIHandler())
    numbers = {"operations": 0, "cases": 0, "failures": []}
    # The credentials are fixed, so schemathesis neither mutates them nor counts them as generated input.
    auth = {
        "headers": {"Authorization": f"Bearer {raw_key}", "X-Api-Key": raw_key},
        "cookies": {"sessionid": ""},
    }

    def check(case, real_path: bool):
        numbers["cases"] += 1
        # Passed again at call time so that schemathesis knows them as real credentials (it then also checks
        # that leaving them out, or sending wrong ones, is refused).
        response = case.call_and_validate(headers=auth["headers"], excluded_checks=EXCLUDED_CHECKS)
        if other_school and real_path:
            assert response.status_code == 404, (response.status_code, response.text[:300])

    for result in api.get_all_operations():
        operation = result.ok()
        numbers["operations"] += 1
        strategies = [(GenerationMode.POSITIVE, {}), (GenerationMode.NEGATIVE, {})]
        names = {p.name for p in operation.path_parameters}
        if names:
            ids = {name: value for name, value in real_ids(cast).items() if name in names}
            strategies.append((GenerationMode.POSITIVE, ids))
        for mode, path_parameters in strategies:
            run = make_run(check, operation, mode, path_parameters, auth)
            label = f"{operation.label} [{mode.value}{', real ids' if path_parameters else ''}]"
            try:
                run()
            except Unsatisfiable:
                pass  # an operation without inputs (GET /me/) has no schema-invalid variant
            except (Exception, BaseExceptionGroup) as error:  # collected, reported together below
                numbers["failures"].append((label, str(error)[:3000]))
    return numbers


def make_run(check, operation, mode, path_parameters: dict, auth: dict):
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None, **auth)

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def run(case):
        check(case, bool(path_parameters))

    return run


def report(run: str, numbers: dict) -> str:
    lines = [
        f"schemathesis ({run}): {numbers['operations']} operations, {numbers['cases']} cases, "
        f"{len(numbers['failures'])} failures"
    ]
    lines += [f"  {label}: {error}" for label, error in numbers["failures"]]
    return "\n".join(lines)


def test_school_a_key_finds_no_server_error_and_no_schema_violation(world):
    numbers = fuzz(world, world.keys.a_rw, other_school=False)
    print("\n" + report("school A key", numbers))
    Path("/tmp/schemathesis-a.txt").write_text(report("school A key", numbers))
    assert numbers["operations"] >= 30
    assert not numbers["failures"], report("school A key", numbers)


def test_another_schools_key_finds_no_server_error_no_violation_and_nothing_of_school_a(world):
    numbers = fuzz(world, world.keys.b_rw, other_school=True)
    print("\n" + report("school B key", numbers))
    assert not numbers["failures"], report("school B key", numbers)
