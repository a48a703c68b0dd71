"""A Python runbook's requirements, end to end on real parts: uv resolves
them from a wheelhouse the test builds, the lock is part of the version's
content, environments are built for real, and runs go through the real
bubblewrap sandbox."""

import json
import multiprocessing
import os
import shutil

import pytest
from django.test import override_settings

from audit import trail
from runbooks import environments, versions
from runbooks.models import RunbookVersion
from runbooks.runners import namespaces
from runbooks.runners.process import RunSpec, run
from tests.factories import make_runbook
from tests.processes import folder_outside_tmp
from tests.runbooks.test_runner import ListSink
from tests.runbooks.wheels import make_wheel
from tests.services import require

SCRIPT = "import tinylib\nprint('tinylib', tinylib.VALUE)\n"


@pytest.fixture
def wheelhouse(tmp_path):
    """Two releases of `tinylib`, and a settings override that makes the
    folder the only package source (--no-index)."""
    folder = tmp_path / "wheels"
    make_wheel(folder, "tinylib", "1.0.0", "VALUE = 'one'\n")
    make_wheel(folder, "tinylib", "2.0.0", "VALUE = 'two'\n")
    with override_settings(STEWARD_WHEELHOUSE=str(folder), STEWARD_PACKAGE_INDEX_URL="", STEWARD_EXTRA_INDEX_URL=""):
        yield folder


@pytest.fixture
def env_dir():
    """Where environments go: a folder the runs' UIDs can walk into (a root
    worker runs each runbook as a UID of its own)."""
    folder = folder_outside_tmp(0o755)
    with override_settings(STEWARD_ENV_DIR=folder):
        yield folder
    shutil.rmtree(folder, ignore_errors=True)


def sandboxed(script, python_env="", **fields):
    require(namespaces.bwrap_path() is not None, "bubblewrap (apt-get install bubblewrap)")
    fields.setdefault("hidden_paths", [])
    sink = ListSink()
    spec = RunSpec(
        kind="python", script=script, parameters={}, event={}, timeout_seconds=20, python_env=python_env, **fields
    )
    return run(spec, sink), sink


def refused_write(sink) -> bool:
    # Read-only as mounted; a root worker's run (a UID of its own) is
    # refused by the files' owner even before that.
    return any("Read-only file system" in t or "Permission denied" in t for t in sink.texts("stderr"))


# --- the lock: resolved when saved, part of the content -------------------------


@pytest.mark.django_db
def test_saving_requirements_stores_a_hashed_lock_covered_by_the_sha256(wheelhouse):
    runbook = make_runbook(script=SCRIPT)
    plain = runbook.current_version
    version = versions.save_runbook(runbook, {"requirements": ["tinylib<2"]}, actor=trail.SYSTEM)
    assert version.number == plain.number + 1 and version.content_format == 3
    assert version.requirements == ["tinylib<2"]
    assert version.requirements_lock.startswith("tinylib==1.0.0 \\\n    --hash=sha256:")
    digest = (wheelhouse / "tinylib-1.0.0-py3-none-any.whl").read_bytes()
    assert environments.hashlib.sha256(digest).hexdigest() in version.requirements_lock
    assert version.verify() and version.sha256 != plain.sha256
    # Changing the lock in place is caught: the hash covers it.
    RunbookVersion.objects.filter(pk=version.pk).update(requirements_lock="tinylib==2.0.0\n")
    assert not RunbookVersion.objects.get(pk=version.pk).verify()


@pytest.mark.django_db
def test_saving_the_same_requirements_again_keeps_the_version_and_its_lock(wheelhouse):
    runbook = make_runbook(script=SCRIPT)
    first = versions.save_runbook(runbook, {"requirements": ["tinylib<2"]}, actor=trail.SYSTEM)
    # A newer release appears: the saved lock does not move with it.
    make_wheel(wheelhouse, "tinylib", "1.5.0", "VALUE = 'one and a half'\n")
    again = versions.save_runbook(runbook, {"requirements": ["tinylib<2"], "script": SCRIPT}, actor=trail.SYSTEM)
    assert again.pk == first.pk and "tinylib==1.0.0" in again.requirements_lock
    changed = versions.save_runbook(runbook, {"requirements": ["tinylib<2", ""]}, actor=trail.SYSTEM)
    assert changed.pk == first.pk  # a blank line is no requirement
    newer = versions.save_runbook(runbook, {"requirements": ["tinylib>1"]}, actor=trail.SYSTEM)
    assert "tinylib==2.0.0" in newer.requirements_lock


@pytest.mark.django_db
def test_a_version_without_requirements_hashes_as_before():
    version = make_runbook(script=SCRIPT).current_version
    assert "requirements" not in version.content() and "requirements_lock" not in version.content()
    before = RunbookVersion.content_hash(
        RunbookVersion.canonical({n: getattr(version, n) for n in RunbookVersion.FORMATS[2]})
    )
    assert version.sha256 == before


@pytest.mark.django_db
def test_a_caller_cannot_bring_its_own_lock(wheelhouse):
    runbook = make_runbook(script=SCRIPT)
    version = versions.save_runbook(
        runbook,
        {"requirements": ["tinylib<2"], "requirements_lock": "evil==6.6.6 --hash=sha256:00\n"},
        actor=trail.SYSTEM,
    )
    assert "evil" not in version.requirements_lock and "tinylib==1.0.0" in version.requirements_lock


@pytest.mark.django_db
def test_restoring_a_version_restores_its_very_lock(wheelhouse):
    runbook = make_runbook(script=SCRIPT)
    old = versions.save_runbook(runbook, {"requirements": ["tinylib"]}, actor=trail.SYSTEM)
    versions.save_runbook(runbook, {"requirements": []}, actor=trail.SYSTEM)
    make_wheel(wheelhouse, "tinylib", "3.0.0", "VALUE = 'three'\n")
    restored = versions.restore_version(runbook, old, actor=trail.SYSTEM)
    assert restored.requirements_lock == old.requirements_lock and "tinylib==2.0.0" in restored.requirements_lock


# --- refusals: a 400 naming the line ----------------------------------------------


def post(api, body):
    return api.post("/api/v1/runbooks", data=json.dumps(body), content_type="application/json")


BODY = {"name": "Uses a library", "kind": "python", "script": SCRIPT}


@pytest.mark.django_db
def test_the_api_saves_requirements_and_shows_the_lock(api, wheelhouse):
    response = post(api, {**BODY, "requirements": ["tinylib==1.*"]})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["requirements"] == ["tinylib==1.*"] and "tinylib==1.0.0" in body["requirements_lock"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("tinylib>=", "'tinylib>=' is not a PEP 508 requirement"),
        ("tinylib @ https://example.invalid/t.whl", "not a URL"),
        ("nosuchlib==1.0", "'nosuchlib==1.0' cannot be resolved: "),
        ("tinylib>=9", "'tinylib>=9' cannot be resolved: "),
    ],
)
def test_a_bad_requirement_is_a_400_naming_the_line(api, wheelhouse, line, said):
    response = post(api, {**BODY, "requirements": ["tinylib", line] if "tinylib" not in line else [line]})
    assert response.status_code == 400, response.content
    messages = response.json()["errors"]["requirements"]
    assert any(said in message for message in messages), messages
    if "resolved" in said:  # the resolver's own words come along
        assert any("unsatisfiable" in message or "not found" in message for message in messages), messages


@pytest.mark.django_db
def test_a_shell_runbook_has_no_requirements(api, wheelhouse):
    response = post(api, {**BODY, "kind": "shell", "script": "true", "requirements": ["tinylib"]})
    assert response.status_code == 400
    assert response.json()["errors"]["requirements"] == ["only a Python runbook has requirements"]


# --- environments ----------------------------------------------------------------------


def lock_of(*lines):
    return environments.resolve(list(lines))


def _build_in_child(lock, queue):
    env = environments.ensure(lock)
    queue.put((env.built, env.path))


def test_two_builders_at_once_build_the_environment_once(wheelhouse, env_dir):
    lock = lock_of("tinylib")
    context = multiprocessing.get_context("fork")  # the children keep these settings
    queue = context.Queue()
    children = [context.Process(target=_build_in_child, args=(lock, queue)) for _ in range(3)]
    for child in children:
        child.start()
    answers = [queue.get(timeout=60) for _ in children]
    for child in children:
        child.join(10)
    assert sorted(built for built, _ in answers) == [False, False, True]
    assert len({path for _, path in answers}) == 1
    assert [name for name in os.listdir(env_dir) if not name.startswith(".")] == [os.path.basename(answers[0][1])]


def test_a_deleted_environment_is_rebuilt(wheelhouse, env_dir):
    lock = lock_of("tinylib")
    first = environments.ensure(lock)
    first.release()
    again = environments.ensure(lock)
    again.release()
    assert first.built and not again.built
    shutil.rmtree(first.path)
    rebuilt = environments.ensure(lock)
    rebuilt.release()
    assert rebuilt.built and rebuilt.path == first.path and os.path.exists(rebuilt.python)


def test_a_broken_index_is_a_build_error_with_uv_s_output(wheelhouse, env_dir, tmp_path):
    lock = lock_of("tinylib")
    (tmp_path / "empty").mkdir()
    with (
        override_settings(STEWARD_WHEELHOUSE=str(tmp_path / "empty")),
        pytest.raises(environments.BuildError) as caught,
    ):
        environments.ensure(lock)
    assert "uv pip sync failed" in str(caught.value) and "tinylib" in caught.value.log
    # Nothing half-built is left to be taken for an environment.
    assert [name for name in os.listdir(env_dir) if not name.startswith(".")] == []


def test_least_recently_used_environments_go_first_and_one_in_use_stays(wheelhouse, env_dir):
    one, two = lock_of("tinylib<2"), lock_of("tinylib>=2")
    old = environments.ensure(one)
    old.release()
    held = environments.ensure(two)  # held: a run is using it
    os.utime(os.path.join(held.path, environments.MARKER), (1, 1))  # and the older by use
    assert environments.evict(str(env_dir), limit_bytes=0) == [os.path.basename(old.path)]
    assert os.path.exists(held.python) and not os.path.exists(old.path)
    held.release()
    assert environments.evict(str(env_dir), limit_bytes=0) == [os.path.basename(held.path)]


# --- what a run sees --------------------------------------------------------------------


def test_a_runbook_imports_its_requirement_in_the_sandbox(wheelhouse, env_dir):
    env = environments.ensure(lock_of("tinylib<2"))
    script = (
        "import shutil, sys, tinylib\n"
        "print('tinylib', tinylib.VALUE)\n"
        "print('python', shutil.which('python') == sys.executable)\n"
    )
    try:
        outcome, sink = sandboxed(script, env.path, hidden_paths=[str(env_dir)])
    finally:
        env.release()
    assert outcome.status == "succeeded", (outcome, sink.texts())
    assert sink.texts() == ["tinylib one", "python True"]


@pytest.mark.parametrize("with_requirements", [False, True])
def test_a_runbook_sees_nothing_of_the_worker_s_packages(wheelhouse, env_dir, with_requirements):
    env = environments.ensure(lock_of("tinylib")) if with_requirements else None
    script = "try:\n    import django\nexcept ImportError as exc:\n    print(exc)\nelse:\n    print(django.__file__)\n"
    try:
        outcome, sink = sandboxed(script, env.path if env else "")
    finally:
        if env:
            env.release()
    assert outcome.status == "succeeded" and sink.texts() == ["No module named 'django'"]


def test_the_environment_is_read_only_to_the_run(wheelhouse, env_dir):
    env = environments.ensure(lock_of("tinylib"))
    script = "import tinylib\nopen(tinylib.__file__, 'a').write('VALUE = 0')\n"
    try:
        outcome, sink = sandboxed(script, env.path)
    finally:
        env.release()
    assert outcome.status == "failed" and refused_write(sink)


def test_the_helper_reads_what_the_run_was_given_and_sets_the_result():
    script = (
        "import steward\n"
        "steward.step('checking\\n the disk')\n"
        "print(steward.param('host'), steward.param('missing', 'dflt'), steward.event()['labels'])\n"
        "steward.set_result({'host': steward.params()['host']})\n"
    )
    require(namespaces.bwrap_path() is not None, "bubblewrap (apt-get install bubblewrap)")
    sink = ListSink()
    spec = RunSpec(
        kind="python", script=script, parameters={"host": "web-01"}, event={"labels": {"a": "b"}}, timeout_seconds=20
    )
    outcome = run(spec, sink)
    assert outcome.status == "succeeded", sink.texts("stderr")
    assert sink.texts() == ["::step:: checking the disk", "web-01 dflt {'a': 'b'}"]
    assert outcome.result == {"host": "web-01"}


def test_the_helper_cannot_be_changed_by_the_run():
    script = "import steward\nopen(steward.__file__, 'a').write('x = 1')\n"
    outcome, sink = sandboxed(script)
    assert outcome.status == "failed" and refused_write(sink)


# --- the pages -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_form_saves_requirements_and_the_version_page_shows_the_lock(client, user, wheelhouse):
    from tests.webui.test_runbook_pages import form_data, labels_ok

    client.force_login(user)
    labels_ok(client.get("/runbooks/new/").content.decode())
    lines = "tinylib<2   # the old API\r\n\r\n"
    response = client.post("/runbooks/new/", form_data(name="Lib", script=SCRIPT, requirements=lines))
    assert response.status_code == 302, response.content.decode()[-2000:]
    version = RunbookVersion.objects.get(runbook__name="Lib")
    assert version.requirements == ["tinylib<2"]
    page = client.get(f"/runbooks/{version.runbook.slug}/versions/{version.number}/").content.decode()
    assert "tinylib==1.0.0" in page and "--hash=sha256:" in page
    edit = client.get(f"/runbooks/{version.runbook.slug}/edit/").content.decode()
    assert "tinylib&lt;2</textarea>" in edit


@pytest.mark.django_db
def test_the_form_shows_the_resolver_s_refusal_on_the_field_and_saves_nothing(client, user, wheelhouse):
    from tests.webui.test_runbook_pages import form_data

    client.force_login(user)
    response = client.post("/runbooks/new/", form_data(name="Lib", script=SCRIPT, requirements="tinylib>=9"))
    html = response.content.decode()
    assert response.status_code == 200 and "&#x27;tinylib&gt;=9&#x27; cannot be resolved" in html
    assert not RunbookVersion.objects.exists()


# --- the folder format ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_requirements_txt_beside_the_script_is_imported_and_exported_in_the_manifest(tmp_path, wheelhouse):
    from django.core.management import CommandError, call_command

    folder = tmp_path / "runbooks" / "uses-lib"
    folder.mkdir(parents=True)
    (folder / "runbook.yaml").write_text("name: Uses lib\nkind: python\n")
    (folder / "runbook.py").write_text(SCRIPT)
    (folder / "requirements.txt").write_text("# pinned to the old API\ntinylib<2\n")
    call_command("import_runbooks", str(tmp_path / "runbooks"), stdout=open(os.devnull, "w"))  # noqa: SIM115
    version = RunbookVersion.objects.get(runbook__slug="uses-lib")
    assert version.requirements == ["tinylib<2"] and "tinylib==1.0.0" in version.requirements_lock
    call_command("export_runbooks", str(tmp_path / "out"), stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert "requirements:\n- tinylib<2\n" in (tmp_path / "out" / "uses-lib" / "runbook.yaml").read_text()
    # A line nothing provides: the import names the folder, the field and uv's reason, and saves nothing.
    (folder / "requirements.txt").write_text("tinylib>=9\n")
    with pytest.raises(CommandError, match=r"requirements: 'tinylib>=9' cannot be resolved"):
        call_command("import_runbooks", str(tmp_path / "runbooks"), stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert RunbookVersion.objects.filter(runbook__slug="uses-lib").count() == 1
