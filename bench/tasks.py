"""The bare Celery task the dispatch figure is compared with: it only tells
the bench, through Redis, when it ran. The bench's workers load it with
`--include bench.tasks`."""

import time

import redis
from celery import shared_task

_clients: dict[str, redis.Redis] = {}


@shared_task(name="bench.ping", ignore_result=True)
def ping(reply_url: str, key: str) -> None:
    now = time.time()
    client = _clients.get(reply_url) or _clients.setdefault(reply_url, redis.Redis.from_url(reply_url))
    client.rpush(key, repr(now))
