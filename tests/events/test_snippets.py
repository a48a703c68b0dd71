"""The configuration each source page offers is whole and pasteable: an
alertmanager.yml Alertmanager accepts as it is, and hints in plain words."""

import shutil
import subprocess

import pytest
import yaml

from events import snippets
from events.models import Source

URL = "http://127.0.0.1:8123/hooks/prod-am"
TOKEN = "sts_abcdefgh_abcdefghijklmnopqrstuvwxyz012345"


def snippet(kind: str, token=TOKEN) -> dict:
    return snippets.for_source(Source(slug="prod-am", name="Prod AM", kind=kind), URL, token)


def test_the_alertmanager_snippet_is_a_whole_alertmanager_yml_routing_to_steward():
    config = yaml.safe_load(snippet("alertmanager")["text"])
    receivers = {r["name"]: r for r in config["receivers"]}
    # A route is required, and it must name the receiver, or no alert arrives.
    assert config["route"]["receiver"] in receivers
    webhook = receivers[config["route"]["receiver"]]["webhook_configs"][0]
    assert webhook["url"] == URL and webhook["send_resolved"] is True
    assert webhook["http_config"]["authorization"] == {"type": "Bearer", "credentials": TOKEN}


@pytest.mark.skipif(not shutil.which("amtool"), reason="amtool (Debian: prometheus-alertmanager) is not installed")
def test_alertmanager_itself_accepts_the_snippet(tmp_path):
    path = tmp_path / "alertmanager.yml"
    path.write_text(snippet("alertmanager")["text"])
    result = subprocess.run(["amtool", "check-config", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_snippet_without_a_token_is_still_valid_yaml_naming_what_goes_there():
    config = yaml.safe_load(snippet("alertmanager", token=None)["text"])
    credentials = config["receivers"][0]["webhook_configs"][0]["http_config"]["authorization"]["credentials"]
    assert credentials == snippets.PLACEHOLDER


@pytest.mark.parametrize("kind", sorted(snippets._KINDS))
def test_every_kinds_hint_is_plain_text_the_page_shows_as_is(kind):
    shown = snippet(kind)
    assert shown["note"] and "`" not in shown["note"] and "**" not in shown["note"]
    assert URL in shown["text"] or URL.split("//")[1] in shown["text"]


def test_the_pagerduty_hint_names_this_sources_api_path():
    assert "PATCH /api/v1/sources/prod-am/" in snippet("pagerduty")["note"]
