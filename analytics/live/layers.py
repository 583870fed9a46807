"""The Redis channel layer, as channels_redis ships it but for one background task.

After handing a message over, channels_redis removes its backup copy in a fire-and-forget task
(`_clean_receive_backup`). When Redis goes away at that moment the task fails and asyncio logs "Task exception was
never retrieved" with a traceback: the only traceback a Redis outage left in the logs. The copy only matters while
Redis keeps its data (it expires with its key), so the failure is logged at debug level instead.
"""

from __future__ import annotations

import logging

from channels_redis.core import RedisChannelLayer as BaseRedisChannelLayer

logger = logging.getLogger(__name__)


class RedisChannelLayer(BaseRedisChannelLayer):
    async def _clean_receive_backup(self, index, channel):
        try:
            await super()._clean_receive_backup(index, channel)
        except Exception as error:
            logger.debug("Could not remove the backup copy of a message on %s: %s", channel, error)
