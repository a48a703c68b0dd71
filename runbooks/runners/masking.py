"""Secret values never reach the database: every output line, the result and
the error of a run pass through a `Masker` before they are stored.

A runbook need not print a secret as it is for a reader to get it back: a
colour reset inside the value (`ab\\x1b[0mcd`) vanishes when the page renders
ANSI, and JSON or URL encoding hides it from a plain search. So a `Masker`
looks for each secret in three ways:

1. Its encoded forms are part of the one pattern (compiled once per run,
   since lines are hot): the value, its JSON string form, every character as
   \\uXXXX, `quote` / `quote_plus`, and base64 at each of the three
   alignments. A match is replaced where it stands; the rest of the line
   keeps its colours.
2. Text holding an escape sequence, a control character, a backslash or a
   percent sign is also read as a person or a decoder would: escapes and
   controls removed (what webui/ansi.py shows), then JSON escapes and URL
   encoding undone. When such a reading holds a secret, that reading is
   stored, masked, instead of the text as printed (its colours lost).
"""

import base64
import json
import re
import urllib.parse

MASK = "***"

# What webui/ansi.py removes when it renders a line (keep the two in step):
# CSI, OSC, any other ESC pair, and control characters but tab.
_ESCAPE = re.compile(r"\x1b\[[0-9;:?]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Text that may read differently once rendered or decoded.
_SUSPECT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\\%]")
_JSON_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)
_JSON_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|[\"\\/bfnrt])")
_JSON_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
# A base64 fragment shorter than this would match unrelated text too often.
_MIN_BASE64 = 8


def _unicode_escaped(value: str) -> list[str]:
    units = value.encode("utf-16-be")
    codes = [int.from_bytes(units[i : i + 2], "big") for i in range(0, len(units), 2)]
    return ["".join(f"\\u{c:04x}" for c in codes), "".join(f"\\u{c:04X}" for c in codes)]


def _base64_fragments(value: str) -> list[str]:
    """The part of base64(prefix + value + suffix) that only the value
    decides, for a prefix of 0, 1 or 2 bytes (the three alignments)."""
    data = value.encode()
    fragments = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data).decode()
        start = -(-8 * shift // 6)  # the first character no prefix bit reaches
        end = 8 * (shift + len(data)) // 6  # the characters no suffix bit reaches
        fragment = encoded[start:end]
        if len(fragment) >= _MIN_BASE64:
            fragments.append(fragment)
    return fragments


def _forms(value: str) -> set[str]:
    forms = {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote(value),
        urllib.parse.quote_plus(value),
        *_unicode_escaped(value),
        *_base64_fragments(value),
    }
    return {form for form in forms if form}


def _json_unescaped(text: str) -> str:
    def pair(match):
        high, low = int(match.group(1), 16), int(match.group(2), 16)
        return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))

    def one(match):
        code = match.group(1)
        return chr(int(code[1:], 16)) if code[0] == "u" else _JSON_SIMPLE[code]

    return _JSON_ESCAPE.sub(one, _JSON_PAIR.sub(pair, text))


def _readings(text: str):
    """The ways a person or a decoder may read `text`, besides as printed."""
    shown = _CONTROL.sub("", _ESCAPE.sub("", text))
    yield shown
    if "\\" in shown:
        yield _json_unescaped(shown)
    if "%" in shown:
        unquoted = urllib.parse.unquote(shown, errors="replace")
        yield unquoted
        yield urllib.parse.unquote_plus(shown, errors="replace")
        if "\\" in unquoted:
            yield _json_unescaped(unquoted)


class Masker:
    """Replaces every whole occurrence of a secret value by `***`.

    Longer values are matched first, so a secret that contains another one is
    masked whole. A multi-line value (a PEM key) is also masked line by line,
    since output is stored one line at a time.
    """

    def __init__(self, values=()):
        parts = set()
        for value in values:
            if not value:
                continue
            parts.add(value)
            parts.update(line.strip() for line in value.splitlines() if line.strip())
        forms = set()
        for part in parts:
            forms.update(_forms(part))
        ordered = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(p) for p in ordered)) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, text: str) -> str:
        if not self._pattern or not text:
            return text
        masked = self._pattern.sub(MASK, text)
        if not _SUSPECT.search(masked):
            return masked
        for reading in _readings(masked):
            if self._pattern.search(reading):
                return self._mask_reading(reading)
        return masked

    def _mask_reading(self, reading: str) -> str:
        # A decoded reading may hold yet another layer (URL-encoded JSON).
        masked = self._pattern.sub(MASK, reading)
        for deeper in _readings(masked):
            if deeper != masked and self._pattern.search(deeper):
                return self._pattern.sub(MASK, deeper)
        return masked

    def json(self, value):
        """A JSON value with every string (keys too) masked."""
        if not self._pattern:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, dict):
            return {self.text(key): self.json(item) for key, item in value.items()}
        if isinstance(value, (int, float)) and not isinstance(value, bool) and self.text(str(value)) != str(value):
            return MASK  # a numeric secret (a PIN) written as a number
        return value
