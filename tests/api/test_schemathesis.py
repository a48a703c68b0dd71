"""Schemathesis against the real server: generated requests for every
operation of the OpenAPI schema, bounded in examples and time. No answer
may be a server error, and every answer must match the schema."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runbooks.models import Execution
from tests.factories import HOST_SCHEMA, api_token, make_binding, make_runbook, make_source

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_schema(web, django_user_model, tmp_path):
    admin = django_user_model.objects.create_superuser("admin", "a@example.invalid", "correct-horse-battery")
    token = api_token(admin)
    runbook = make_runbook(slug="restart", parameters=HOST_SCHEMA)
    source, _ = make_source("am", "alertmanager")
    make_binding(runbook, source, parameters={"host": "{{ event.labels.instance }}"})
    Execution.objects.create(runbook=runbook, version=runbook.current_version, status="succeeded")
    base = web()
    st = Path(sys.executable).parent / "st"
    command = [
        str(st) if st.exists() else shutil.which("st"),
        "run",
        f"{base}/api/schema/",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "not_a_server_error,response_schema_conformance,status_code_conformance",
        "--max-examples",
        "5",
        "--workers",
        "1",
        "--seed",
        "1",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    summary = result.stdout[result.stdout.find("SUMMARY") :] if "SUMMARY" in result.stdout else result.stdout[-3000:]
    assert result.returncode == 0, summary + result.stderr[-2000:]
