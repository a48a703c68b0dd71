"""Runbooks as code: import_runbooks and export_runbooks."""

import io

import pytest
from django.core.management import CommandError, call_command

from ops import demo
from runbooks.models import Runbook, RunbookVersion

pytestmark = pytest.mark.django_db

MANIFEST = """\
name: Flush cache
slug: flush-cache
description: |
  Flushes the **cache** of one host.
team: storage
tags: [cache]
kind: shell
parameters:
  type: object
  properties:
    host: {type: string, description: The host}
  required: [host]
timeout_seconds: 30
secrets: [CACHE_TOKEN]
queue: dc-east
max_attempts: 2
retry_on: [failed]
"""


def write(folder, manifest=MANIFEST, script="echo flushing $PARAM_HOST\n", script_name="runbook.sh"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "runbook.yaml").write_text(manifest)
    if script is not None:
        (folder / script_name).write_text(script)
    return folder


def imported(path) -> str:
    out = io.StringIO()
    call_command("import_runbooks", str(path), stdout=out)
    return out.getvalue()


def test_import_twice_creates_no_new_version(tmp_path):
    write(tmp_path / "flush-cache")
    assert "flush-cache: created (v1)" in imported(tmp_path)
    runbook = Runbook.objects.get(slug="flush-cache")
    version = runbook.current_version
    assert (runbook.name, runbook.team, runbook.tags, runbook.max_attempts) == ("Flush cache", "storage", ["cache"], 2)
    assert (version.kind, version.queue, version.secrets, version.timeout_seconds) == (
        "shell",
        "dc-east",
        ["CACHE_TOKEN"],
        30,
    )
    assert version.parameters["required"] == ["host"] and version.script == "echo flushing $PARAM_HOST\n"
    assert "flush-cache: unchanged" in imported(tmp_path)
    assert RunbookVersion.objects.filter(runbook=runbook).count() == 1


def test_a_changed_script_is_a_new_version_and_a_changed_description_is_not(tmp_path):
    folder = write(tmp_path / "flush-cache")
    imported(tmp_path)
    write(folder, MANIFEST.replace("Flushes the", "Empties the"))
    assert "updated (same code, no new version)" in imported(tmp_path)
    write(folder, script="echo flushing harder\n")
    assert "new version v2" in imported(tmp_path)
    assert Runbook.objects.get().current_version.number == 2


def test_export_then_import_is_a_round_trip(tmp_path):
    for example in ("a", "b"):
        write(tmp_path / "in" / example, MANIFEST.replace("flush-cache", f"flush-{example}"))
    imported(tmp_path / "in")
    out = io.StringIO()
    call_command("export_runbooks", str(tmp_path / "out"), stdout=out)
    assert "exported 2 runbook(s)" in out.getvalue()
    assert sorted(p.name for p in (tmp_path / "out" / "flush-a").iterdir()) == ["runbook.sh", "runbook.yaml"]
    assert imported(tmp_path / "out").count(": unchanged") == 2


@pytest.mark.parametrize(
    "manifest,script,problem",
    [
        ("name: [unclosed\n", "", "not valid YAML: line"),
        ("- a list\n", "", "must be a mapping"),
        (MANIFEST + "colour: blue\n", "", "unknown field(s) colour"),
        (MANIFEST.replace("kind: shell", "kind: ruby"), "", "kind"),
        (MANIFEST, None, "the script runbook.sh is missing"),
        (MANIFEST.replace("timeout_seconds: 30", "timeout_seconds: -1"), "", "timeout_seconds"),
        (MANIFEST.replace("type: string", "type: strin"), "", "parameters"),
        (MANIFEST.replace("[CACHE_TOKEN]", "[cache-token]"), "", "secrets"),
        (MANIFEST + "script: ../../etc/passwd\n", "", "a file name in the runbook's folder"),
    ],
)
def test_a_bad_manifest_fails_clearly_and_nothing_is_imported(tmp_path, manifest, script, problem):
    write(tmp_path / "good", MANIFEST.replace("flush-cache", "good-one"))
    write(tmp_path / "bad", manifest, script=script if script is None else "echo x\n")
    with pytest.raises(CommandError) as failure:
        imported(tmp_path)
    assert problem in str(failure.value) and "nothing imported" in str(failure.value)
    assert not Runbook.objects.exists()


def test_two_folders_with_one_slug_are_refused(tmp_path):
    write(tmp_path / "one")
    write(tmp_path / "two")
    with pytest.raises(CommandError, match="also the slug of"):
        imported(tmp_path)


def test_an_empty_or_missing_folder_is_an_error(tmp_path):
    with pytest.raises(CommandError, match=r"no folder with a runbook\.yaml"):
        imported(tmp_path)
    with pytest.raises(CommandError, match="not a folder"):
        imported(tmp_path / "missing")


def dry_run(path) -> str:
    out = io.StringIO()
    call_command("import_runbooks", str(path), "--dry-run", stdout=out)
    return out.getvalue()


def test_dry_run_says_what_would_be_created_and_changes_nothing(tmp_path):
    write(tmp_path / "flush-cache")
    out = dry_run(tmp_path)
    assert "flush-cache: would be created (v1)" in out and "1 would change; nothing written" in out
    assert not Runbook.objects.exists()


def test_dry_run_names_a_new_version_a_policy_change_and_what_is_unchanged(tmp_path):
    write(tmp_path / "flush-cache")
    write(tmp_path / "other", MANIFEST.replace("flush-cache", "other").replace("Flush cache", "Other"))
    write(tmp_path / "third", MANIFEST.replace("flush-cache", "third").replace("Flush cache", "Third"))
    imported(tmp_path)
    versions = RunbookVersion.objects.count()
    write(tmp_path / "flush-cache", MANIFEST.replace("timeout_seconds: 30", "timeout_seconds: 45"), script="echo v2\n")
    write(
        tmp_path / "other",
        MANIFEST.replace("flush-cache", "other")
        .replace("Flush cache", "Other")
        .replace("max_attempts: 2", "max_attempts: 3")
        .replace("team: storage", "team: web"),
    )
    out = dry_run(tmp_path)
    assert "flush-cache: would get a new version (script, timeout_seconds changed)" in out
    # The run policy is version content: a policy change is a new version.
    assert "other: would get a new version (max_attempts changed)" in out
    assert "third: unchanged" in out and "3 runbook(s) valid, 2 would change" in out
    assert RunbookVersion.objects.count() == versions and Runbook.objects.get(slug="other").max_attempts == 2
    # The import does what the dry run said.
    real = imported(tmp_path)
    assert "flush-cache: new version v2" in real and "other: new version v2" in real
    assert "third: unchanged" in real


def test_export_refuses_a_python_package_or_an_app_of_the_checkout(tmp_path):
    from django.conf import settings as django_settings

    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    demo.seed()
    for target in (package, package / "sub", django_settings.BASE_DIR / "runbooks"):
        with pytest.raises(CommandError, match=r"nothing exported: .* outside the code"):
            call_command("export_runbooks", str(target), stdout=io.StringIO())
    assert not (package / "sub").exists()
    assert not (django_settings.BASE_DIR / "runbooks" / "disk-cleanup").exists()
    out = io.StringIO()
    call_command("export_runbooks", str(tmp_path / "library"), stdout=out)
    assert (tmp_path / "library" / "disk-cleanup" / "runbook.yaml").is_file()


def test_the_demo_seed_loads_the_example_library_once_and_keeps_disk_cleanup():
    demo.seed()
    slugs = set(Runbook.objects.values_list("slug", flat=True))
    assert {"disk-cleanup", "disk-usage-report", "http-health-check", "collect-diagnostics", "restart-service"} <= slugs
    restart = Runbook.objects.get(slug="restart-service").current_version
    assert restart.secrets == ["SERVICE_API_TOKEN"]
    assert set(restart.parameters["properties"]) >= {"url", "service", "token_secret"}
    cleanup = Runbook.objects.get(slug="disk-cleanup").current_version
    assert cleanup.script == demo.DEMO_SCRIPT and cleanup.parameters == demo.DEMO_PARAMETERS
    versions = RunbookVersion.objects.count()
    demo.seed()
    assert RunbookVersion.objects.count() == versions


def test_export_of_an_unknown_slug_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="no such runbook: nope"):
        call_command("export_runbooks", str(tmp_path), "nope")
