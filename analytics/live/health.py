"""`/readyz`: may a load balancer send this process students? (`/healthz`, in `classes.views`, only says the
process answers: a liveness check that stays green through a database or Redis outage, so that an orchestrator
does not restart every process because PostgreSQL went away.)

Each check runs with a timeout, concurrently, so the answer comes within READY_TIMEOUT_SECONDS whatever is down:

* database: `SELECT 1` on a connection of its own thread;
* channel_layer: an empty group send (a round trip to Redis; trivially fine on the in-memory layer);
* models: the inference models are in place (the engine can be created; they load on the first stream);
* sample_buffer: the live sample writer has room (it refuses frames with `storage_unavailable` when full).

200 {"status": "ready", "checks": {...: "ok"}} or 503 {"status": "unavailable", "checks": {name: "ok" | reason}}.
Reasons name the failure's kind, never a host name or credentials.
"""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connections
from django.http import JsonResponse

from analytics.sample_writer import writer

from . import pipeline

READY_TIMEOUT_SECONDS = 3.0
PROBE_GROUP = "fermonitor.readyz"


def _database() -> None:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connections.close_all()  # this thread is asgiref's pool's; leave no connection behind


async def _channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    await layer.group_send(PROBE_GROUP, {"type": "readyz.probe"})


def _models() -> None:
    pipeline.engine()


async def _check(probe) -> str:
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            await probe
    except TimeoutError:
        return "timeout"
    except Exception as error:
        return type(error).__name__
    return "ok"


async def readyz(request):
    sample_writer = writer()
    names = ("database", "channel_layer", "models")
    results = await asyncio.gather(
        _check(sync_to_async(_database, thread_sensitive=False)()),
        _check(_channel_layer()),
        _check(sync_to_async(_models, thread_sensitive=False)()),
    )
    checks = dict(zip(names, results, strict=True))
    checks["sample_buffer"] = "ok" if sample_writer.accepting else "full"
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )
