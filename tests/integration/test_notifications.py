"""Notifications end to end: a real worker runs the runbook, queues the
notification, and sends it to a receiver on loopback (allowed in the test
settings), retrying a receiver that fails; a worker with the default
settings refuses a private address without connecting."""

import hashlib
import hmac
import json
import time

import pytest

from notifications.models import Delivery
from runbooks.models import Execution
from tests.conftest import wait_for
from tests.notifications.receiver import Receiver
from tests.processes import final

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

FAILING = (
    "import json, os\nprint('cleaning /var/log')\n"
    "json.dump({'freed_gb': 0, 'blocked_by': 'journald'}, open(os.environ['STEWARD_RESULT'], 'w'))\n"
    "raise SystemExit(3)\n"
)


@pytest.fixture
def receiver():
    started = []

    def start(statuses=()):
        started.append(Receiver(statuses))
        return started[-1]

    yield start
    for r in started:
        r.close()


def post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def webhook_channel(api, url) -> str:
    """A webhook channel through the API; its signing secret, shown once."""
    created = post(api, "/api/v1/channels/", {"name": "Ops hook", "kind": "webhook", "url": url})
    assert created.status_code == 201, created.json()
    return created.json()["signing_secret"]


def failing_runbook(api):
    answer = post(api, "/api/v1/runbooks/", {"name": "Disk cleanup", "kind": "python", "script": FAILING})
    assert answer.status_code == 201, answer.json()
    subscribed = post(
        api, "/api/v1/subscriptions/", {"channel": "ops-hook", "runbook": "disk-cleanup", "events": ["run_failed"]}
    )
    assert subscribed.status_code == 201, subscribed.json()


def run(api) -> Execution:
    answer = post(api, "/api/v1/runbooks/disk-cleanup/run/", {"parameters": {}})
    assert answer.status_code == 202
    return final(answer.json()["execution"])


def verify(secret: str, request) -> bool:
    t, v1 = (part.split("=", 1)[1] for part in request.headers["X-Steward-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{t}.".encode() + request.body, hashlib.sha256).hexdigest()
    return abs(time.time() - int(t)) < 300 and hmac.compare_digest(v1, expected)


def test_a_failed_run_reaches_the_receiver_signed_with_its_diagnosis(api, worker, receiver, settings):
    r = receiver()
    secret = webhook_channel(api, r.url("/steward"))
    failing_runbook(api)
    execution = run(api)
    assert execution.status == "failed"
    request = wait_for(lambda: r.requests and r.requests[0], timeout=30, what="the notification")
    assert verify(secret, request)
    message = request.json()["message"]
    assert message["status"] == "failed" and message["title"] == "Disk cleanup failed"
    assert json.loads(message["result_summary"]) == {"freed_gb": 0, "blocked_by": "journald"}
    assert ["Exit code", "3"] in message["fields"]
    assert message["url"] == f"{settings.STEWARD_BASE_URL}/executions/{execution.pk}/"
    delivery = wait_for(lambda: Delivery.objects.filter(status="sent").first(), what="the delivery to be sent")
    assert delivery.attempts == 1 and delivery.execution_id == execution.pk
    assert api.get(f"/api/v1/deliveries/?execution={execution.pk}").json()["results"][0]["status"] == "sent"


def test_a_receiver_failing_twice_gets_the_message_on_the_third_attempt(api, worker, receiver):
    r = receiver([500, 500])
    secret = webhook_channel(api, r.url())
    failing_runbook(api)
    execution = run(api)
    delivery = wait_for(
        lambda: Delivery.objects.filter(execution=execution, status="sent").first(),
        timeout=40,
        what="the third attempt",
    )
    assert delivery.attempts == 3 and delivery.last_error == "HTTP 500: receiver is down"
    assert [entry["ok"] for entry in delivery.attempt_log] == [False, False, True]
    assert len(r.requests) == 3 and verify(secret, r.requests[2])
    assert len({request.headers["X-Steward-Delivery"] for request in r.requests}) == 1  # one id: receivers dedup
    gaps = [b["at"] for b in delivery.attempt_log]
    assert gaps == sorted(gaps)


def test_the_test_button_goes_through_the_worker(api, worker, receiver):
    r = receiver()
    webhook_channel(api, r.url())
    answer = post(api, "/api/v1/channels/ops-hook/test/", {})
    assert answer.status_code == 202
    wait_for(lambda: r.requests, timeout=30, what="the test message")
    assert r.requests[0].json()["event"] == "test"
    polled = wait_for(
        lambda: api.get(f"/api/v1/deliveries/{answer.json()['id']}/").json()["status"] == "sent", what="sent"
    )
    assert polled


def test_a_worker_with_default_settings_refuses_loopback_at_send_time(api, workers, receiver, settings):
    r = receiver()
    webhook_channel(api, r.url())  # allowed here, in the test settings
    settings.STEWARD_NOTIFY_QUEUE = "notify-default-settings"
    workers(["notify-default-settings"], "strict", STEWARD_NOTIFY_ALLOWED_NETWORKS="")
    answer = post(api, "/api/v1/channels/ops-hook/test/", {})
    delivery = wait_for(
        lambda: Delivery.objects.filter(pk=answer.json()["id"], status="failed").first(), timeout=30, what="refusal"
    )
    assert delivery.attempts == 1 and "127.0.0.1 is a loopback address" in delivery.last_error
    assert r.connections == 0


def test_a_subscription_made_elsewhere_counts_for_the_workers_next_run(api, worker):
    """The worker caches that nobody listens to a runbook; a subscription
    made in another process (here, through the API) reaches its next run."""
    answer = post(api, "/api/v1/runbooks/", {"name": "Disk cleanup", "kind": "python", "script": FAILING})
    assert answer.status_code == 201, answer.json()
    quiet = run(api)
    assert quiet.status == "failed" and not Delivery.objects.exists()
    created = post(api, "/api/v1/channels/", {"name": "Ops", "kind": "email", "recipients": ["ops@example.com"]})
    assert created.status_code == 201, created.json()
    subscribed = post(
        api, "/api/v1/subscriptions/", {"channel": "ops", "runbook": "disk-cleanup", "events": ["run_started"]}
    )
    assert subscribed.status_code == 201, subscribed.json()
    heard = run(api)
    assert list(Delivery.objects.values_list("execution_id", "event")) == [(heard.pk, "run_started")]
