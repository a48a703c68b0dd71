"""Side-by-side diff of two texts, as rows a template renders (and escapes):
no HTML is built here."""

import difflib
from dataclasses import dataclass


@dataclass
class Row:
    kind: str  # equal, delete, insert, replace, or "gap" between hunks
    left_no: int | None = None
    left: str = ""
    right_no: int | None = None
    right: str = ""


def side_by_side(before: str, after: str, context: int = 3) -> list[Row]:
    """The changed lines of `before` → `after` with `context` lines around
    them; a `gap` row stands for the unchanged lines left out. Empty when
    the texts are equal."""
    a, b = before.splitlines(), after.splitlines()
    rows: list[Row] = []
    for n, group in enumerate(difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context)):
        if n:
            rows.append(Row("gap"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                rows += [
                    Row("equal", i + 1, a[i], j + 1, b[j]) for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
                ]
                continue
            left, right = list(range(i1, i2)), list(range(j1, j2))
            for k in range(max(len(left), len(right))):
                i = left[k] if k < len(left) else None
                j = right[k] if k < len(right) else None
                kind = "replace" if i is not None and j is not None else ("delete" if j is None else "insert")
                rows.append(
                    Row(
                        kind,
                        i + 1 if i is not None else None,
                        a[i] if i is not None else "",
                        j + 1 if j is not None else None,
                        b[j] if j is not None else "",
                    )
                )
    return rows
