"""A run's output, read in pages by line number: the API's log endpoint and
the run page's poll ask for the lines after the last one they have."""

from runbooks.models import Execution, LogLine

LOG_PAGE = 1000


def log_page(execution: Execution, after: int) -> dict:
    """Lines after `after`; `done` once the run ended and every line is read.

    The status is read before the lines: the worker stores all lines before it
    writes the final status, so a finished status means no line is missing.
    """
    finished = execution.is_finished
    lines = list(
        LogLine.objects.filter(execution=execution, n__gt=after)
        .order_by("n")
        .values("n", "t", "stream", "text")[:LOG_PAGE]
    )
    next_n = lines[-1]["n"] if lines else after
    return {"lines": lines, "next": next_n, "done": finished and len(lines) < LOG_PAGE}
