"""The worker accepts JSON only. A pickled task message (whose unpickling
would create a file), put on the queue as anyone who reaches the broker
could put it, is refused; a run published after it (the canary) runs, and
only then is the file checked: the worker has read past the pickle."""

import pickle
import uuid

import pytest
from django.conf import settings
from kombu import Producer, Queue

from audit import trail
from config.celery import app
from runbooks import runs
from tests.factories import make_runbook
from tests.processes import final

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


class CreatesAFile:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickled_task_on_the_queue_is_refused_by_the_worker(worker, tmp_path):
    marker = tmp_path / "unpickled-by-the-worker"
    body = pickle.dumps(((CreatesAFile(marker),), {}, {}))
    pickle.loads(body)[0][0].close()  # the control: unpickled, it does create the file
    assert marker.exists()
    marker.unlink()
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    with app.connection_for_write() as connection:
        Producer(connection).publish(
            body,
            routing_key=queue,
            exchange="",
            declare=[Queue(queue, durable=True)],
            content_type="application/x-python-serialize",
            content_encoding="binary",
            headers={"task": "runbooks.run_execution", "id": str(uuid.uuid4()), "lang": "py"},
        )
    runbook = make_runbook(slug="canary", script="print('after the pickle')")
    canary = runs.request_run(runbook, {}, None, trail.SYSTEM)
    assert final(canary.pk).status == "succeeded"
    assert not marker.exists(), "the worker unpickled a message"
