"""An execution's page: what ran, when each step happened, its output
(coloured, escaped, tail first), and the actions the person may take."""

import pytest
from django.utils import timezone

from events.models import Event
from runbooks.models import Execution
from tests.factories import HOST_SCHEMA, make_binding, make_runbook, make_source, make_user
from tests.pages.conftest import add_lines, queries, run_of
from webui import logs

pytestmark = pytest.mark.django_db


def test_it_shows_parameters_version_sha256_trigger_and_timeline(logged_in):
    runbook = make_runbook(name="Disk cleanup", slug="disk", parameters=HOST_SCHEMA)
    source, _ = make_source()
    binding = make_binding(runbook, source, name="Clean full disks")
    event = Event.objects.create(source=source, status="firing", name="DiskFull", fingerprint="f")
    created = timezone.now() - timezone.timedelta(seconds=30)
    execution = run_of(
        runbook,
        "failed",
        parameters={"host": "web-01"},
        event=event,
        binding=binding,
        created_at=created,
        enqueued_at=created + timezone.timedelta(seconds=1),
        started_at=created + timezone.timedelta(seconds=3),
        finished_at=created + timezone.timedelta(seconds=10),
        worker="celery@w1",
        exit_code=2,
        result={"freed": "2 GiB"},
    )
    html = logged_in.get(f"/executions/{execution.pk}/").content.decode()
    assert "web-01" in html and runbook.current_version.sha256 in html and ">v1<" in html
    assert "DiskFull" in html and "Clean full disks" in html and "exit code 2" in html
    assert "2 GiB" in html
    timeline = html[html.index('<ol class="timeline">') : html.index("</ol>", html.index('<ol class="timeline">'))]
    steps = [s.split("</strong>")[0] for s in timeline.split("<strong>")[1:]]
    assert steps == ["Created", "Queued", "Started", "Finished"]
    assert "+2.0 s" in timeline and "+7.0 s" in timeline and "on celery@w1" in timeline
    # The first element with class "status" is the run's status (contract).
    assert html.index('class="status status-failed">failed<') < html.index("timeline")


def test_an_approved_run_shows_who_approved_and_a_pending_step(logged_in):
    runbook = make_runbook(slug="rb")
    approver = make_user("responder", username="alice")
    execution = run_of(
        runbook,
        "queued",
        decision="approved",
        decided_by=approver,
        decided_at=timezone.now(),
        decision_reason="go",
        waiting_for_slot=True,
    )
    html = logged_in.get(f"/executions/{execution.pk}/").content.decode()
    assert "Approved" in html and "by alice: go" in html
    assert "waits for a free slot" in html and 'class="pending"' in html


def test_hostile_output_with_ansi_colours_is_escaped_and_coloured(logged_in):
    execution = run_of(make_runbook(slug="rb"), "succeeded")
    add_lines(execution, ["\x1b[31m<script>alert(1)</script>\x1b[0m", '<img src=x onerror="alert(2)">'])
    html = logged_in.get(f"/executions/{execution.pk}/").content.decode()
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert '<span class="ansi-fg-1">&lt;script&gt;alert(1)&lt;/script&gt;</span>' in html
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in html


def test_a_long_log_opens_on_its_tail_and_earlier_lines_come_on_request(logged_in):
    execution = run_of(make_runbook(slug="rb"), "succeeded")
    total = logs.TAIL + 120
    add_lines(execution, [f"line-{i}." for i in range(1, total + 1)])
    html = logged_in.get(f"/executions/{execution.pk}/").content.decode()
    assert f"line-{total}." in html and "line-121." in html and "line-120." not in html
    assert "Show 120 earlier lines" in html
    assert f'hx-get="/executions/{execution.pk}/log/earlier?before=121"' in html

    earlier = logged_in.get(
        f"/executions/{execution.pk}/log/earlier?before=121", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'hx-swap-oob="afterbegin:#log"' in earlier
    assert "line-1." in earlier and "line-120." in earlier and "line-121." not in earlier
    assert "earlier line" not in earlier  # nothing before line 1: the button goes


def test_the_download_streams_every_line(logged_in):
    execution = run_of(make_runbook(slug="rb"), "succeeded")
    add_lines(execution, [f"out {i}" for i in range(1, 2501)])
    add_lines(execution, ["\x1b[31mbad\x1b[0m"], stream="stderr", first=2501)
    response = logged_in.get(f"/executions/{execution.pk}/log.txt")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/plain")
    assert response["Content-Disposition"] == f'attachment; filename="rb-{execution.pk}.log"'
    text = b"".join(response.streaming_content).decode()
    rows = text.splitlines()
    assert len(rows) == 2501 and rows[0].endswith(" stdout out 1") and rows[-1].endswith(" stderr \x1b[31mbad\x1b[0m")


def test_the_poll_sends_new_lines_coloured(logged_in):
    execution = run_of(make_runbook(slug="rb"), "running")
    add_lines(execution, ["one", "\x1b[1mtwo\x1b[0m"])
    update = logged_in.get(f"/executions/{execution.pk}/log?after=1", HTTP_HX_REQUEST="true").content.decode()
    assert '<span class="ansi-bold">two</span>' in update and ">one<" not in update
    assert f'hx-get="/executions/{execution.pk}/log?after=2"' in update


@pytest.mark.parametrize(
    "role, status, shown, hidden",
    [
        ("viewer", "running", [], ["Cancel", "Run again", "Approve and run"]),
        ("responder", "running", ["Cancel"], ["Run again"]),
        ("responder", "failed", ["Run again"], ["Cancel"]),
        ("responder", "awaiting_approval", ["Cancel", "Approve and run", "Reject"], ["Run again"]),
        ("viewer", "awaiting_approval", [], ["Approve and run", ">Cancel<"]),
    ],
)
def test_actions_follow_the_role(as_role, role, status, shown, hidden):
    execution = run_of(make_runbook(slug="rb"), status)
    html = as_role(role).get(f"/executions/{execution.pk}/").content.decode()
    for action in shown:
        assert action in html, action
    for action in hidden:
        assert action not in html, action


def test_the_requester_cannot_approve_their_own_run(as_role):
    client = as_role("responder")
    requester = Execution._meta.get_field("requested_by").related_model.objects.get(username="responder-person")
    execution = run_of(make_runbook(slug="rb"), "awaiting_approval", requested_by=requester)
    html = client.get(f"/executions/{execution.pk}/").content.decode()
    assert "Approve and run" not in html and "another responder must approve" in html


def test_queries_do_not_grow_with_the_log(logged_in):
    short = run_of(make_runbook(slug="a"), "running")
    add_lines(short, ["x"])
    long = run_of(make_runbook(slug="b"), "running")
    add_lines(long, [f"x{i}" for i in range(50)])
    assert queries(logged_in, f"/executions/{short.pk}/") == queries(logged_in, f"/executions/{long.pk}/")
    assert queries(logged_in, f"/executions/{short.pk}/log?after=0", HTTP_HX_REQUEST="true") == queries(
        logged_in, f"/executions/{long.pk}/log?after=0", HTTP_HX_REQUEST="true"
    )


def test_unknown_or_malformed_ids_are_404_and_bad_numbers_are_ignored(logged_in):
    execution = run_of(make_runbook(slug="rb"), "succeeded")
    add_lines(execution, ["a", "b"])
    assert logged_in.get("/executions/00000000-0000-0000-0000-000000000000/log.txt").status_code == 404
    assert (
        logged_in.get(f"/executions/{execution.pk}/log/earlier?before=oops", HTTP_HX_REQUEST="true").status_code == 200
    )
    assert logged_in.get(f"/executions/{execution.pk}/log?after=-5", HTTP_HX_REQUEST="true").status_code == 200


def test_the_log_needs_a_login(client):
    execution = run_of(make_runbook(slug="rb"), "succeeded")
    for path in ("/", f"/executions/{execution.pk}/log.txt", f"/executions/{execution.pk}/log/earlier?before=2"):
        response = client.get(path)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], path
