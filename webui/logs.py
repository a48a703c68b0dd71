"""A run's output on its page: the last lines first, earlier ones on
request, new ones by polling, the whole log as a streamed download. No
view ever reads every line of a long log at once."""

from django.utils import timezone

from runbooks.models import Execution, LogLine
from webui import ansi

TAIL = 500  # lines the page opens with
EARLIER = 1000  # lines one "earlier lines" press adds
DOWNLOAD_CHUNK = 2000  # lines read (and sent) at a time by the download

FIELDS = ("n", "t", "stream", "text")


def _with_html(lines: list[dict]) -> list[dict]:
    for line in lines:
        line["html"] = ansi.to_html(line["text"])
    return lines


def tail(execution: Execution) -> dict:
    """The last TAIL lines, where the poll goes on from, and how many
    earlier lines are not shown. `execution` was read before the lines, so
    a finished status means every line is already stored (the worker writes
    the lines before the final status)."""
    lines = list(LogLine.objects.filter(execution=execution).order_by("-n").values(*FIELDS)[:TAIL])
    lines.reverse()
    return {
        "lines": _with_html(lines),
        "next": lines[-1]["n"] if lines else 0,
        "done": execution.is_finished,
        "earlier": lines[0]["n"] - 1 if lines else 0,
        "first": lines[0]["n"] if lines else 0,
    }


def before(execution: Execution, n: int) -> dict:
    """Up to EARLIER lines just before line `n`, and how many remain before those."""
    lines = list(LogLine.objects.filter(execution=execution, n__lt=n).order_by("-n").values(*FIELDS)[:EARLIER])
    lines.reverse()
    first = lines[0]["n"] if lines else n
    return {"lines": _with_html(lines), "earlier": max(first - 1, 0), "first": first}


def with_html(page: dict) -> dict:
    """A page from runbooks.logs.log_page, its lines ready for the template."""
    _with_html(page["lines"])
    return page


def as_text(execution: Execution):
    """The whole log as text, one line per line of output (ANSI codes kept,
    as the runbook wrote them), read in chunks through a database cursor."""
    rows = (
        LogLine.objects.filter(execution=execution)
        .order_by("n")
        .values_list("t", "stream", "text")
        .iterator(chunk_size=DOWNLOAD_CHUNK)
    )
    chunk = []
    for t, stream, text in rows:
        chunk.append(f"{timezone.localtime(t).isoformat(timespec='milliseconds')} {stream} {text}\n")
        if len(chunk) >= DOWNLOAD_CHUNK:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)
