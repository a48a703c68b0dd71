"""Secret values never reach the database: every output line, the result and
the error of a run pass through a `Masker` before they are stored."""

import re

MASK = "***"


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
        ordered = sorted(parts, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(p) for p in ordered)) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern else text

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
