"""The app talks to the broker CELERY_BROKER_URL names. In CI that is
Redis: the app's connection is Redis's transport, and a message the app
publishes is seen in Redis itself (read there with a plain Redis client,
not through Celery), so a fallback to another transport cannot pass
unseen. Without the variable it is the embedded filesystem broker."""

import base64
import json
import os
import uuid

import redis
from django.conf import settings
from kombu import Producer, Queue

from config.celery import app

NAMED = os.environ.get("CELERY_BROKER_URL", "")


def test_the_apps_connection_is_the_named_transport():
    with app.connection_for_write() as connection:
        driver = connection.transport.driver_type
    if NAMED.startswith("redis://"):
        assert driver == "redis" and settings.CELERY_BROKER_URL == NAMED
    else:
        assert driver == "filesystem"


def test_a_message_the_app_publishes_goes_through_that_broker():
    queue = Queue(f"steward-probe-{uuid.uuid4().hex[:12]}")
    marker = uuid.uuid4().hex
    with app.connection_for_write() as connection:
        Producer(connection).publish({"probe": marker}, routing_key=queue.name, declare=[queue], serializer="json")
        if NAMED.startswith("redis://"):
            # Read where Redis keeps a queue (a list named for it), outside Celery.
            raw = redis.Redis.from_url(NAMED)
            try:
                [message] = raw.lrange(queue.name, 0, -1)
                envelope = json.loads(message)
                assert envelope["properties"]["body_encoding"] == "base64"
                assert json.loads(base64.b64decode(envelope["body"])) == {"probe": marker}
            finally:
                raw.delete(queue.name)
        else:
            with connection.SimpleQueue(queue) as simple:
                received = simple.get(timeout=5)
                assert received.payload == {"probe": marker}
                received.ack()
