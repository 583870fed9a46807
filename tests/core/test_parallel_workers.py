"""pytest-xdist workers share one Redis: each has its own channel-layer prefix (set in tests/conftest.py), so two
workers' sessions with the same ids (each worker has its own test database) never hear each other."""

import asyncio
import os

import pytest
from django.conf import settings

REDIS_URL = os.environ.get("REDIS_URL", "")


def test_this_worker_has_its_own_channel_layer_prefix_and_passes_it_to_servers():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    assert os.environ["CHANNEL_LAYER_PREFIX"] == f"fermonitor-test-{worker}"
    config = settings.CHANNEL_LAYERS["default"].get("CONFIG")
    if REDIS_URL:
        assert config["prefix"] == f"fermonitor-test-{worker}"


@pytest.mark.skipif(not REDIS_URL, reason="needs Redis: set REDIS_URL=redis://...")
async def test_two_workers_groups_of_the_same_name_do_not_hear_each_other():
    from channels_redis.core import RedisChannelLayer

    first = RedisChannelLayer(hosts=[REDIS_URL], prefix="fermonitor-test-gw0")
    second = RedisChannelLayer(hosts=[REDIS_URL], prefix="fermonitor-test-gw1")
    group = f"live-session-1-{os.getpid()}"
    mine, theirs = await first.new_channel(), await second.new_channel()
    await first.group_add(group, mine)
    await second.group_add(group, theirs)
    try:
        await first.group_send(group, {"type": "live.sync", "n": 1})
        assert (await asyncio.wait_for(first.receive(mine), 5))["n"] == 1
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(second.receive(theirs), 1)
    finally:
        await first.group_discard(group, mine)
        await second.group_discard(group, theirs)
        await first.close_pools()
        await second.close_pools()
