"""Each event queues a delivery for the subscriptions that want it, and for
no other; the message carries the status, the result and a link; emitting
never breaks the path that calls it."""

import pytest
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit import trail
from gates import services as gates
from gates.models import Check, Gate
from notifications import emit as notify
from notifications import messages
from notifications.models import Channel, Delivery, Subscription
from runbooks import runs, worker
from runbooks.models import Execution
from runbooks.runners.process import Outcome
from tests.factories import make_binding, make_runbook, make_user

pytestmark = pytest.mark.django_db


def channel(slug, **fields):
    return Channel.objects.create(
        slug=slug, name=slug.title(), kind="email", recipients=[f"{slug}@example.com"], **fields
    )


def subscribe(ch, events, **subject):
    return Subscription.objects.create(channel=ch, events=events, **subject)


def running(runbook, **fields):
    now = timezone.now()
    return Execution.objects.create(
        runbook=runbook, version=runbook.current_version, status="running", started_at=now, heartbeat_at=now, **fields
    )


def sent(event=None):
    rows = Delivery.objects.order_by("created_at")
    return [(d.channel.slug, d.event) for d in (rows.filter(event=event) if event else rows)]


def test_a_run_notifies_started_and_succeeded_with_its_result_and_a_link(settings):
    settings.STEWARD_BASE_URL = "https://steward.example.com"
    script = "import json, os\njson.dump({'freed_gb': 12}, open(os.environ['STEWARD_RESULT'], 'w'))\n"
    runbook = make_runbook(name="Disk cleanup", slug="disk", script=script)
    other = make_runbook(slug="other")
    subscribe(channel("ops"), ["run_started", "run_succeeded"], runbook=runbook)
    subscribe(channel("failures-only"), ["run_failed"], runbook=runbook)
    subscribe(channel("elsewhere"), ["run_started", "run_succeeded"], runbook=other)
    execution = runs.request_run(runbook, {}, None, trail.SYSTEM)
    worker.run(str(execution.pk))
    assert sent() == [("ops", "run_started"), ("ops", "run_succeeded")]
    message = Delivery.objects.get(event="run_succeeded").message
    assert message["status"] == "succeeded" and message["title"] == "Disk cleanup succeeded"
    assert message["result_summary"] == '{"freed_gb": 12}'
    assert message["url"] == f"https://steward.example.com/executions/{execution.pk}/"
    delivery = Delivery.objects.get(event="run_succeeded")
    assert (delivery.status, delivery.attempts, delivery.execution_id) == ("pending", 0, execution.pk)


@pytest.mark.parametrize("status", ["failed", "timed_out"])
def test_a_failed_or_timed_out_run_notifies_run_failed_with_the_error(status):
    runbook = make_runbook(name="Restart nginx", slug="nginx")
    subscribe(channel("ops"), ["run_failed"], runbook=runbook)
    subscribe(channel("happy"), ["run_succeeded"], runbook=runbook)
    execution = running(runbook)
    worker.finish(execution, Outcome(status, exit_code=3, result={"checked": ["a"]}, error="nginx: [emerg] bad config"))
    assert sent() == [("ops", "run_failed")]
    message = Delivery.objects.get().message
    assert message["status"] == status and message["error"] == "nginx: [emerg] bad config"
    assert ["Exit code", "3"] in message["fields"] and message["severity"] == "error"


def test_a_lost_run_notifies_run_failed():
    runbook = make_runbook(slug="fix")
    subscribe(channel("ops"), ["run_failed"], runbook=runbook)
    worker.mark_lost(running(runbook), "Its worker w1 stopped responding.")
    assert sent() == [("ops", "run_failed")]
    assert "stopped responding" in Delivery.objects.get().message["error"]


def test_a_run_awaiting_approval_notifies_who_subscribed():
    runbook = make_runbook(slug="risky", requires_approval=True)
    subscribe(channel("approvers"), ["awaiting_approval"], runbook=runbook)
    subscribe(channel("starts"), ["run_started"], runbook=runbook)
    execution = runs.request_run(runbook, {}, make_user("responder", username="asker"), trail.SYSTEM)
    assert execution.status == "awaiting_approval"
    assert sent() == [("approvers", "awaiting_approval")]
    assert Delivery.objects.get().message["title"] == "Restart service awaits approval"


def test_a_binding_subscription_hears_its_runs_and_its_breaker_and_one_channel_gets_one_message():
    runbook = make_runbook(slug="fix")
    binding = make_binding(runbook, name="disk full", breaker_failures=1, breaker_window_minutes=10)
    ops = channel("ops")
    subscribe(ops, ["run_failed", "binding_tripped"], binding=binding)
    subscribe(ops, ["run_failed"], runbook=runbook)  # the same channel again, through the runbook
    other_binding = make_binding(runbook, name="other")
    subscribe(channel("other"), ["binding_tripped", "run_failed"], binding=other_binding)
    execution = running(runbook, binding=binding)
    worker.finish(execution, Outcome("failed", exit_code=1, error="boom"))
    assert sent() == [("ops", "run_failed"), ("ops", "binding_tripped")]
    tripped = Delivery.objects.get(event="binding_tripped")
    assert tripped.binding_id == binding.pk and tripped.message["severity"] == "critical"
    assert "1 runs failed within 10 minutes" in tripped.message["error"]
    assert Delivery.objects.get(event="run_failed").binding_id == binding.pk


def test_a_failed_gate_check_notifies_its_gate_subscription_only():
    runbook = make_runbook(slug="cve-scan")
    gate = Gate.objects.create(name="prod-deploy")
    gate.runbooks.add(runbook)
    quiet = Gate.objects.create(name="staging")
    subscribe(channel("release"), ["gate_failed"], gate=gate)
    subscribe(channel("staging"), ["gate_failed"], gate=quiet)
    run = Execution.objects.create(
        runbook=runbook,
        version=runbook.current_version,
        status="failed",
        exit_code=1,
        result={"reasons": ["CVE-2026-0001 in libfoo"]},
        finished_at=timezone.now(),
    )
    check = Check.objects.create(gate=gate, fields={"service": "checkout", "version": "1.4.2"})
    check.executions.add(run)
    assert gates.refresh(check).verdict == "fail"
    assert sent() == [("release", "gate_failed")]
    message = Delivery.objects.get().message
    assert message["reasons"] == ["cve-scan: CVE-2026-0001 in libfoo"] and ["version", "1.4.2"] in message["fields"]
    gates.refresh(check)  # decided already: nothing more
    assert Delivery.objects.count() == 1


def test_a_passing_gate_and_disabled_subscriptions_or_channels_send_nothing():
    runbook = make_runbook(slug="fix")
    subscribe(channel("off", enabled=False), ["run_failed"], runbook=runbook)
    Subscription.objects.create(channel=channel("paused"), runbook=runbook, events=["run_failed"], enabled=False)
    worker.finish(running(runbook), Outcome("failed", exit_code=1))
    gate = Gate.objects.create(name="g")
    subscribe(channel("gate"), ["gate_failed"], gate=gate)
    assert gates.refresh(Check.objects.create(gate=gate)).verdict == "pass"  # no runbook: pass
    assert Delivery.objects.count() == 0


def test_without_subscriptions_emitting_reads_no_subscription_and_takes_no_savepoint():
    runbook = make_runbook(slug="fix")
    execution = running(runbook)
    execution.status = "failed"
    notify.run_finished(execution)  # this process learns that nobody listens
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert notify.run_finished(execution) == 0
    sql = [q["sql"] for q in queries]
    assert not any("notifications_" in q for q in sql), sql
    # What is left is the token in the shared cache: a query only when that cache is the database.
    in_database = isinstance(caches["default"], DatabaseCache)
    assert len(sql) == (3 if in_database else 0), sql  # SAVEPOINT, SELECT steward_cache, RELEASE


def test_a_subscription_counts_from_the_next_run_on_even_after_nobody_listened():
    runbook = make_runbook(slug="fix")
    execution = running(runbook)
    assert notify.run_started(execution) == 0  # cached: nobody listens
    ops = channel("ops")
    subscribe(ops, ["run_started"], runbook=runbook)
    assert notify.run_started(execution) == 1
    ops.enabled = False
    ops.save()
    assert notify.run_started(execution) == 0
    ops.enabled = True
    ops.save()
    assert notify.run_started(execution) == 1
    assert Delivery.objects.filter(channel=ops, event="run_started").count() == 2


def test_an_unreadable_cache_means_asking_the_database(monkeypatch):
    runbook = make_runbook(slug="fix")
    subscribe(channel("ops"), ["run_started"], runbook=runbook)

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(caches["default"], "get", down)
    assert notify.run_started(running(runbook)) == 1


def test_a_fault_while_emitting_never_breaks_the_run(monkeypatch, caplog):
    runbook = make_runbook(slug="fix")
    subscribe(channel("ops"), ["run_failed"], runbook=runbook)

    def broken(*args):
        raise RuntimeError("a bug in a template")

    monkeypatch.setattr(messages, "for_execution", broken)
    execution = running(runbook)
    assert worker.finish(execution, Outcome("failed", exit_code=1, error="boom")) is True
    execution.refresh_from_db()
    assert execution.status == "failed" and execution.error == "boom"
    assert Delivery.objects.count() == 0 and "could not queue run_failed" in caplog.text
