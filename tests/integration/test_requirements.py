"""A Python runbook's requirements on a real Celery worker: the worker
builds the environment from the saved lock (real uv, a wheelhouse the test
builds), runs the runbook in it, and fails the run with the build's error
when it cannot."""

import json
import os
import shutil
import uuid

import pytest
from django.test import override_settings

from audit import trail
from runbooks import environments, runs, versions
from runbooks.models import Execution, LogLine
from tests.factories import make_runbook
from tests.processes import final, folder_outside_tmp
from tests.runbooks.wheels import make_wheel

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

SCRIPT = (
    "import importlib.metadata, steward, tinylib\n"
    "steward.step('using tinylib')\n"
    "steward.set_result({'value': tinylib.VALUE, 'version': importlib.metadata.version('tinylib')})\n"
)


@pytest.fixture
def folders(tmp_path):
    """A wheelhouse with one release of tinylib, and an environment folder
    the runs' UIDs can walk into (outside /tmp: each run has its own)."""
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "tinylib", "1.0.0", "VALUE = 'one'\n")
    envs = folder_outside_tmp(0o755)
    with override_settings(STEWARD_WHEELHOUSE=str(wheels), STEWARD_ENV_DIR=envs):
        yield wheels, envs
    shutil.rmtree(envs, ignore_errors=True)


def start_worker(workers, wheels, envs, name):
    queue = f"reqs-{uuid.uuid4().hex[:8]}"
    workers([queue], name, STEWARD_WHEELHOUSE=str(wheels), STEWARD_ENV_DIR=str(envs))
    return queue


def run(runbook) -> Execution:
    return final(runs.request_run(runbook, {}, None, trail.SYSTEM).pk, timeout=60)


def environments_in(envs) -> list[str]:
    return sorted(name for name in os.listdir(envs) if not name.startswith("."))


def test_a_runbook_uses_its_locked_requirement_and_a_later_run_the_very_same_environment(workers, folders):
    wheels, envs = folders
    queue = start_worker(workers, wheels, envs, "reqs")
    runbook = make_runbook(name="Uses tinylib", script=SCRIPT, queue=queue)
    version = versions.save_runbook(runbook, {"requirements": ["tinylib"]}, trail.SYSTEM)
    first = run(runbook)
    assert first.status == "succeeded", (first.error, list(LogLine.objects.filter(execution=first).values("text")))
    assert first.result == {"value": "one", "version": "1.0.0"}
    assert LogLine.objects.filter(execution=first, text="::step:: using tinylib").exists()
    [built] = environments_in(envs)
    marker = json.loads((envs / built / environments.MARKER).read_text())
    assert marker["lock_sha256"] == environments.lock_sha(version.requirements_lock)
    # A newer release lands in the wheelhouse: the version's runs keep the lock.
    make_wheel(wheels, "tinylib", "2.0.0", "VALUE = 'two'\n")
    second = run(runbook)
    assert second.status == "succeeded" and second.result == {"value": "one", "version": "1.0.0"}
    assert environments_in(envs) == [built]
    assert json.loads((envs / built / environments.MARKER).read_text())["pid"] == marker["pid"]  # not rebuilt


def test_a_deleted_environment_is_rebuilt_at_the_next_run(workers, folders):
    wheels, envs = folders
    queue = start_worker(workers, wheels, envs, "rebuild")
    runbook = make_runbook(name="Rebuilt", script=SCRIPT, queue=queue)
    versions.save_runbook(runbook, {"requirements": ["tinylib==1.0.0"]}, trail.SYSTEM)
    assert run(runbook).status == "succeeded"
    [built] = environments_in(envs)
    shutil.rmtree(envs / built)
    again = run(runbook)
    assert again.status == "succeeded" and again.result["value"] == "one"
    assert environments_in(envs) == [built]


def test_a_broken_index_fails_the_run_with_the_build_error(workers, folders, tmp_path):
    _, envs = folders
    empty = tmp_path / "empty"
    empty.mkdir()
    # The version was locked against the real wheelhouse; this worker's has nothing.
    queue = start_worker(workers, empty, envs, "broken")
    runbook = make_runbook(name="Cannot build", script=SCRIPT, queue=queue)
    versions.save_runbook(runbook, {"requirements": ["tinylib"]}, trail.SYSTEM)
    failed = run(runbook)
    assert failed.status == "failed"
    assert failed.error.startswith("The runbook's environment could not be built: uv pip sync failed")
    assert "tinylib" in failed.error
    log = list(LogLine.objects.filter(execution=failed).values_list("stream", "text"))
    assert log and all(stream == "steward" for stream, _ in log)
    assert any("tinylib" in text for _, text in log)
    assert environments_in(envs) == []


def test_a_runbook_without_requirements_cannot_import_the_worker_s_django(workers, folders):
    wheels, envs = folders
    queue = start_worker(workers, wheels, envs, "plain")
    script = (
        "import steward\n"
        "try:\n    import django\nexcept ImportError as exc:\n    steward.set_result(str(exc))\n"
        "else:\n    steward.set_result(django.__file__)\n"
    )
    done = run(make_runbook(name="No django", script=script, queue=queue))
    assert done.status == "succeeded" and done.result == "No module named 'django'"
