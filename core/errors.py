"""One base for every refusal, mapped to HTTP in one place.

A domain rule refuses with `Refused(message, field, kind)`, or with every
problem at once (`problems`: (field, message) pairs); it never carries an
HTTP status. `kind` says what the refusal means, and `STATUS` is the one
map from kind to status, read by the DRF exception handler (core/drf.py)
and by the pages' helper (`status_of`).
"""

from contextlib import contextmanager

INVALID = "invalid"  # what was sent breaks a rule: 400
CONFLICT = "conflict"  # the request is fine, the state is not (a name is taken): 409
FORBIDDEN = "forbidden"  # only someone else may do this: 403

STATUS = {INVALID: 400, CONFLICT: 409, FORBIDDEN: 403}

# What a field nobody asked for is told (the API and the domain rules alike).
UNKNOWN_FIELD = "not a field of this object"


class Refused(Exception):
    def __init__(self, message: str = "", field: str | None = None, kind: str = INVALID, problems=None):
        if kind not in STATUS:
            raise ValueError(f"unknown refusal kind {kind!r}")
        self.problems: list[tuple[str | None, str]] = list(problems or [(field, message)])
        self.field, self.kind = self.problems[0][0], kind
        super().__init__(message or self.problems[0][1])

    @property
    def message(self) -> str:
        return str(self)

    def by_field(self) -> dict:
        """{field: [messages]}, with field-less problems under "non_field_errors"."""
        errors: dict = {}
        for field, message in self.problems:
            errors.setdefault(field or "non_field_errors", []).append(message)
        return errors


@contextmanager
def refusing(field: str, *errors: type[Exception]):
    """A lower module's own error (a bad template, a bad condition) becomes
    a refusal of `field`, with the lower module's message."""
    try:
        yield
    except errors as exc:
        raise Refused(str(exc), field) from None


def status_of(refused: Refused) -> int:
    return STATUS[refused.kind]


def collect(checks) -> None:
    """Run each `check()` (a callable that may raise Refused) and raise one
    Refused holding every problem found, so a caller hears them all at once."""
    problems, kind = [], INVALID
    for check in checks:
        try:
            check()
        except Refused as exc:
            problems.extend(exc.problems)
            kind = exc.kind if kind == INVALID else kind
    if problems:
        raise Refused(problems=problems, kind=kind)
