"""A secret stays masked however a runbook encodes it, and masking keeps
what it can of the line (its colours) when the secret is printed in one of
the forms the pattern knows.

Written for the mutants `make mutate` found surviving in
runbooks/runners/masking.py; each test states what a reader of the run page
would check: the secret is gone, and the line is otherwise as printed.
"""

import base64
import json
import urllib.parse

import pytest

from runbooks.runners.masking import MASK, Masker

SECRET = "s3cr3t-Tok/en+wörd"
RED, RESET = "\x1b[31m", "\x1b[0m"


def coloured(text: str) -> str:
    return f"{RED}{text}{RESET} done"


def escaped_every_char(value: str, upper: bool) -> str:
    units = value.encode("utf-16-be")
    codes = [int.from_bytes(units[i : i + 2], "big") for i in range(0, len(units), 2)]
    return "".join(f"\\u{c:04X}" if upper else f"\\u{c:04x}" for c in codes)


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(json.dumps(SECRET)[1:-1], id="json-ascii"),
        pytest.param(json.dumps('q"' + SECRET, ensure_ascii=False)[1:-1], id="json-unicode"),
        pytest.param(urllib.parse.quote(SECRET, safe=""), id="quote-all"),
        pytest.param(urllib.parse.quote(SECRET), id="quote-path"),
        pytest.param(urllib.parse.quote_plus(SECRET), id="quote-plus"),
        pytest.param(escaped_every_char(SECRET, upper=False), id="unicode-lower"),
        pytest.param(escaped_every_char(SECRET, upper=True), id="unicode-upper"),
    ],
)
def test_a_known_encoding_is_masked_where_it_stands_and_the_colours_stay(form):
    secret = 'q"' + SECRET if form.startswith("q") else SECRET
    assert Masker([secret, SECRET]).text(coloured(form)) == coloured(MASK)


@pytest.mark.parametrize("prefix", [b"", b"x", b"xy"], ids=["aligned", "one-byte-in", "two-bytes-in"])
@pytest.mark.parametrize("suffix", [b"", b"!", b"!?"], ids=["end", "one-after", "two-after"])
def test_a_secret_inside_a_base64_blob_is_masked_at_every_alignment(prefix, suffix):
    blob = base64.b64encode(prefix + SECRET.encode() + suffix).decode()
    assert MASK in Masker([SECRET]).text(f"blob {blob}")


def test_a_secret_of_six_bytes_is_masked_in_base64_too():
    # six bytes are eight base64 characters: the shortest fragment masked
    blob = base64.b64encode(b"abcdef!!!").decode()
    assert Masker(["abcdef"]).text(blob).startswith(MASK)


def test_partly_json_escaped_text_is_read_as_a_decoder_would():
    # only the first character escaped: no single encoded form matches
    printed = "token \\u0073" + SECRET[1:].replace("/", "\\/")
    assert SECRET not in Masker([SECRET]).text(printed)
    assert "3cr3t" not in Masker([SECRET]).text(printed)


def test_an_escaped_character_above_u0fff_is_decoded_with_all_four_digits():
    secret = "x€y"
    printed = "t=\\u0078\\u20acy"
    assert Masker([secret]).text(printed) == f"t={MASK}"


def test_an_escaped_surrogate_pair_is_decoded_to_its_character():
    secret = "a😀b"
    printed = "t=\\u0061\\ud83d\\ude00b"
    assert Masker([secret]).text(printed) == f"t={MASK}"


def test_url_encoded_json_escapes_are_both_undone():
    printed = "u=" + urllib.parse.quote("\\u0073" + SECRET[1:], safe="")
    assert "3cr3t" not in Masker([SECRET]).text(printed)


def test_text_that_is_not_valid_url_encoding_is_not_an_error():
    printed = "%ff then " + urllib.parse.quote(SECRET, safe="")
    assert Masker([SECRET]).text(printed) == f"%ff then {MASK}"
    assert Masker([SECRET]).text("%ff+" + SECRET) == f"%ff+{MASK}"


def test_an_empty_value_does_not_stop_the_ones_after_it():
    assert Masker(["", "hunter2"]).text("pw hunter2") == f"pw {MASK}"


def test_a_secret_holding_another_is_masked_whole():
    assert Masker(["zz", "abzzcd"]).text("abzzcd") == MASK
    assert Masker(["abzzcd", "zz"]).text("x zz abzzcd") == f"x {MASK} {MASK}"


def test_no_secrets_masks_nothing():
    masker = Masker([])
    assert not masker
    assert not Masker([""])
    assert masker.text("anything") == "anything"
    assert masker.json({"a": [1, "b"]}) == {"a": [1, "b"]}


def test_empty_text_stays_empty():
    assert Masker(["x"]).text("") == ""


def test_a_result_is_masked_in_lists_keys_and_numbers():
    masker = Masker([SECRET, "1234"])
    assert masker.json(["ok", SECRET, {SECRET: SECRET}]) == ["ok", MASK, {MASK: MASK}]
    assert masker.json(1234) == MASK  # a PIN written as a number
    assert masker.json(5) == 5
    assert masker.json(12.5) == 12.5
    assert masker.json(True) is True
    assert masker.json(None) is None


def test_a_secret_that_starts_another_is_masked_whole():
    assert Masker(["abc", "abcdef"]).text("x abcdef y") == f"x {MASK} y"


def test_two_copies_hidden_in_two_ways_in_one_line_are_both_masked():
    # one split by a colour reset (read once escapes are removed), one partly
    # JSON-escaped (read once that reading is decoded too)
    printed = f"a s3cr3t-{RESET}Tok/en+wörd b \\u0073{SECRET[1:]}"
    masked = Masker([SECRET]).text(printed)
    assert "3cr3t" not in masked and masked.count(MASK) == 2
