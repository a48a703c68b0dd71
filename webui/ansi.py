"""Runbook output with ANSI colours, as escaped HTML.

Runbook output is untrusted: every character of text goes through
`escape`, and the only markup this module writes is `<span class="...">`
with class names from fixed tables below. SGR sequences (`ESC [ ... m`)
become classes (`ansi-fg-1`, `ansi-bold`, ...), coloured by app.css for the
light and the dark theme; the CSP forbids style attributes, so 24-bit and
most 256-colour codes have no class and are dropped. Every other escape
sequence (cursor moves, erase line, OSC titles and links) is removed.
"""

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# CSI (ESC [ params final), OSC (ESC ] ... BEL or ESC \), and any other
# two-character escape. Only CSI ending in "m" carries colours.
_ESCAPE = re.compile(r"\x1b\[([0-9;:?]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?")
# Other control characters (but tab) would only garble the line.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

_ATTRIBUTES = {1: "bold", 2: "dim", 3: "italic", 4: "underline", 7: "inverse", 9: "strike"}
_ATTRIBUTE_OFF = {
    21: ("bold",),
    22: ("bold", "dim"),
    23: ("italic",),
    24: ("underline",),
    27: ("inverse",),
    29: ("strike",),
}


def _code(param: str) -> int:
    if not param:
        return 0
    return int(param) if len(param) <= _MAX_PARAM_DIGITS and param.isdigit() else -1


# No SGR code or argument (a 24-bit colour component included) has more digits.
_MAX_PARAM_DIGITS = 3


class _State:
    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.fg: int | None = None  # 0-15: the 16 named colours
        self.bg: int | None = None
        self.attributes: set[str] = set()

    def classes(self) -> str:
        names = [f"ansi-{a}" for a in sorted(self.attributes)]
        if self.fg is not None:
            names.append(f"ansi-fg-{self.fg}")
        if self.bg is not None:
            names.append(f"ansi-bg-{self.bg}")
        return " ".join(names)

    def apply(self, params: str) -> None:
        # A parameter longer than any real code means nothing (-1): int() of
        # thousands of digits is refused (ValueError) or costly, and the run
        # page must render whatever a runbook printed.
        codes = [_code(p) for p in re.split("[;:]", params)] if params else [0]
        i = 0
        while i < len(codes):
            code = codes[i]
            i += 1
            if code == 0:
                self.reset()
            elif code in _ATTRIBUTES:
                self.attributes.add(_ATTRIBUTES[code])
            elif code in _ATTRIBUTE_OFF:
                self.attributes.difference_update(_ATTRIBUTE_OFF[code])
            elif 30 <= code <= 37:
                self.fg = code - 30
            elif 90 <= code <= 97:
                self.fg = code - 90 + 8
            elif code == 39:
                self.fg = None
            elif 40 <= code <= 47:
                self.bg = code - 40
            elif 100 <= code <= 107:
                self.bg = code - 100 + 8
            elif code == 49:
                self.bg = None
            elif code in (38, 48):
                # 38;5;n (256 colours: the first 16 are the named ones) or
                # 38;2;r;g;b (24-bit, no class for it): consume the arguments.
                mode = codes[i] if i < len(codes) else None
                if mode == 5 and i + 1 < len(codes):
                    n = codes[i + 1]
                    colour = n if 0 <= n < 16 else None
                    if code == 38:
                        self.fg = colour
                    else:
                        self.bg = colour
                    i += 2
                elif mode == 2:
                    i += 4
                else:
                    i += 1


def to_html(text: str) -> SafeString:
    """One line (or more) of output as escaped HTML with colour spans."""
    if "\x1b" not in text:
        return mark_safe(escape(_CONTROL.sub("", text)))
    state, parts, position = _State(), [], 0

    def emit(chunk: str) -> None:
        chunk = _CONTROL.sub("", chunk)
        if not chunk:
            return
        classes = state.classes()
        parts.append(f'<span class="{classes}">{escape(chunk)}</span>' if classes else escape(chunk))

    for match in _ESCAPE.finditer(text):
        emit(text[position : match.start()])
        position = match.end()
        if match.group(2) == "m":
            state.apply(match.group(1))
    emit(text[position:])
    return mark_safe("".join(parts))


def strip(text: str) -> str:
    """The text without any escape sequence: what a person reads."""
    return _CONTROL.sub("", _ESCAPE.sub("", text))
