"""A secret stays masked however a runbook prints it: split by a colour
reset, JSON-escaped, URL-encoded or base64-encoded, in lines, result and error."""

import base64
import json
import re
import time
import urllib.parse

import pytest

from runbooks.runners.masking import Masker
from runbooks.runners.process import run
from tests.runbooks.test_runner import ListSink, spec
from webui import ansi

SECRET = "s3cr3t-Tok/en+wörd"


def shown(text: str) -> str:
    """What a person reads on the run page: the rendered HTML's text."""
    return ansi.strip(text)


@pytest.mark.parametrize(
    "printed",
    [
        "token s3cr3t-\x1b[0mTok/en+wörd done",
        "token s3cr3t-Tok\x1b[31m/en\x1b[39m+wörd",
        "token s3cr\x1b]0;title\x073t-Tok/en+wörd",
        "token s3cr3t-To\x1b[2Kk/en+wörd",
        "token s3cr3t-Tok/\x08en+wörd",
        "\x1b[1ms3cr3t-\x1b[22m\x1b[0mTok/en+wörd\x1b[0m",
    ],
)
def test_a_secret_split_by_an_escape_sequence_is_not_shown_whole(printed):
    masked = Masker([SECRET]).text(printed)
    assert SECRET not in shown(masked)
    assert SECRET not in masked and "***" in shown(masked)
    assert SECRET not in shown(str(ansi.to_html(masked)))


def test_a_line_without_a_secret_keeps_its_colours():
    line = "\x1b[32mok\x1b[0m 100% done \\o/"
    assert Masker([SECRET]).text(line) == line


def test_a_secret_found_as_printed_keeps_the_rest_of_the_line_as_printed():
    assert Masker([SECRET]).text(f"\x1b[31m{SECRET}\x1b[0m 50%") == "\x1b[31m***\x1b[0m 50%"


@pytest.mark.parametrize(
    "printed",
    [
        json.dumps({"token": SECRET}),
        json.dumps({"token": SECRET}, ensure_ascii=False),
        json.dumps({"token": 'q"uote\\' + SECRET}),
        "".join(f"\\u{ord(c):04x}" for c in SECRET),
        "".join(f"\\u{ord(c):04X}" for c in SECRET),
        # Some characters escaped, some not: only a decoder sees it.
        "s3cr3t-\\u0054ok\\/en+w\\u00f6rd",
        json.dumps(json.dumps({"token": SECRET})),
    ],
)
def test_a_json_escaped_secret_is_masked(printed):
    masked = Masker([SECRET]).text(printed)
    assert "***" in masked
    decoded = masked
    for _ in range(2):
        try:
            decoded = json.loads(decoded) if isinstance(decoded, str) else json.dumps(decoded)
        except ValueError:
            break
    assert SECRET not in json.dumps(decoded, ensure_ascii=False) and SECRET not in str(decoded)
    assert SECRET not in masked.encode().decode("unicode_escape", errors="ignore")


@pytest.mark.parametrize(
    "printed",
    [
        "GET /cb?token=" + urllib.parse.quote(SECRET, safe=""),
        "GET /cb?token=" + urllib.parse.quote_plus(SECRET),
        "https://x.example/" + urllib.parse.quote(SECRET),
        "GET /cb?t=" + re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), urllib.parse.quote(SECRET, safe="")),
        "next=" + urllib.parse.quote("/cb?token=" + urllib.parse.quote(SECRET, safe=""), safe=""),
    ],
)
def test_a_url_encoded_secret_is_masked(printed):
    masked = Masker([SECRET]).text(printed)
    assert "***" in masked
    assert SECRET not in urllib.parse.unquote(masked)
    assert SECRET not in urllib.parse.unquote(urllib.parse.unquote_plus(masked))


def test_a_base64_encoded_secret_is_masked_at_every_alignment():
    masker = Masker([SECRET])
    for prefix in (b"", b"u", b"us", b"user:"):
        encoded = base64.b64encode(prefix + SECRET.encode()).decode()
        masked = masker.text(f"Authorization: Basic {encoded}")
        assert encoded not in masked and "***" in masked
        # Too little of the encoding is left to decode the secret from.
        assert len(masked) < len(f"Authorization: Basic {encoded}") - 8


def test_result_and_error_strings_are_read_the_same_way():
    masker = Masker([SECRET])
    result = masker.json(
        {"raw": json.dumps({"t": SECRET}), "url": urllib.parse.quote(SECRET), "n": [f"a\x1b[0m{SECRET}"]}
    )
    assert SECRET not in json.dumps(result, ensure_ascii=False)
    assert SECRET not in json.loads(result["raw"]).get("t", "")
    assert shown(masker.text("Traceback: KeyError('s3cr3t-\x1b[0mTok/en+wörd')")) == "Traceback: KeyError('***')"


def test_a_runbook_cannot_print_its_secret_past_the_mask():
    script = (
        "import json, os, sys, urllib.parse\n"
        "s = os.environ['API_TOKEN']\n"
        "print(s[:4] + '\\x1b[0m' + s[4:])\n"
        "print(json.dumps({'token': s}))\n"
        "print(urllib.parse.quote(s, safe=''), file=sys.stderr)\n"
        "json.dump({'nested': json.dumps({'t': s})}, open(os.environ['STEWARD_RESULT'], 'w'))\n"
    )
    sink = ListSink()
    outcome = run(spec(script, secrets={"API_TOKEN": SECRET}), sink)
    assert outcome.status == "succeeded", outcome.error
    assert len(sink.collected) == 3
    for line in sink.collected:
        assert "***" in line.text
        readable = urllib.parse.unquote(shown(line.text))
        assert SECRET not in readable and SECRET not in readable.encode().decode("unicode_escape", errors="ignore")
    assert SECRET not in json.loads(outcome.result["nested"]).get("t", "")


def test_masking_stays_fast_on_busy_output():
    masker = Masker([f"secret-{i}-value" for i in range(10)])
    lines = [f'\x1b[32m{i:06d}\x1b[0m GET /api?q=a%20b 200 {{"k": "v\\n"}} took 12ms' for i in range(20_000)]
    started = time.monotonic()
    for line in lines:
        masker.text(line)
    # ~20k suspect lines (colours, %, backslashes): well under a second here.
    assert time.monotonic() - started < 3
