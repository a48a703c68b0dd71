"""Charts as SVG built on the server: no script, no style attribute (the CSP
allows neither), every text escaped. Each chart names itself with <title>
and <desc> for screen readers, every bar carries its own <title> (a tooltip
on hover) and `data-value`, and the page shows the same numbers as a table
beside it. Colours come from classes that app.css sets for both themes."""

from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH = 480


@dataclass
class Column:
    """One column of a stacked column chart: a label under it and a count per series."""

    label: str
    values: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.values.values())


@dataclass
class Bar:
    """One row of a bar chart: `value` out of `scale`, said as `text`."""

    label: str
    value: float
    text: str
    href: str = ""


def _frame(chart_id: str, title: str, description: str, height: int, body: SafeString) -> SafeString:
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{id}" viewBox="0 0 {w} {h}" width="100%"'
        ' role="img" aria-labelledby="{id}-title {id}-desc" preserveAspectRatio="xMinYMin meet">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>{body}</svg>',
        id=chart_id,
        w=WIDTH,
        h=height,
        title=title,
        desc=description,
        body=body,
    )


def _number(value: float) -> str:
    """Coordinates with at most two decimals: short and stable to compare."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def stacked_columns(
    chart_id: str,
    title: str,
    description: str,
    columns: list[Column],
    series: list[tuple[str, str]],
    label_every: int = 3,
) -> SafeString:
    """Columns side by side, each a stack of its series (bottom first in
    `series` order); the tallest column fills the plot."""
    height, top, bottom, left = 200, 16, 24, 36
    plot = height - top - bottom
    peak = max((c.total for c in columns), default=0)
    step = (WIDTH - left) / max(len(columns), 1)
    parts = [
        format_html(
            '<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"/>', left, height - bottom, WIDTH, height - bottom
        ),
        format_html('<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>', left - 4, top + 4, peak),
        format_html('<text class="tick" x="{}" y="{}" text-anchor="end">0</text>', left - 4, height - bottom),
    ]
    for i, column in enumerate(columns):
        x = left + i * step + step * 0.1
        y = height - bottom
        for key, name in series:
            n = column.values.get(key, 0)
            if not n:
                continue
            h = plot * n / peak
            y -= h
            parts.append(
                format_html(
                    '<rect class="bar series-{}" x="{}" y="{}" width="{}" height="{}" data-value="{}">'
                    "<title>{}: {} {}</title></rect>",
                    key,
                    _number(x),
                    _number(y),
                    _number(step * 0.8),
                    _number(h),
                    n,
                    column.label,
                    n,
                    name,
                )
            )
        if i % label_every == 0:
            parts.append(
                format_html(
                    '<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>',
                    _number(x + step * 0.4),
                    height - 6,
                    column.label,
                )
            )
    return _frame(chart_id, title, description, height, mark_safe("".join(parts)))


def bars(chart_id: str, title: str, description: str, rows: list[Bar], scale: float | None = None) -> SafeString:
    """Horizontal bars, one per row, label above, value text at the end;
    `scale` is the value of a full bar (default: the largest value)."""
    row_height, bar_height = 40, 16
    height = max(len(rows), 1) * row_height + 4
    scale = scale or max((r.value for r in rows), default=0) or 1
    usable = WIDTH - 90  # room for the value text after the longest bar
    parts = []
    for i, row in enumerate(rows):
        y = i * row_height
        width = usable * min(row.value, scale) / scale
        label = format_html('<text class="label" x="0" y="{}">{}</text>', y + 14, row.label)
        if row.href:
            label = format_html('<a href="{}">{}</a>', row.href, label)
        parts.append(label)
        parts.append(
            format_html(
                '<rect class="bar" x="0" y="{}" width="{}" height="{}" data-value="{}"><title>{}: {}</title></rect>'
                '<text class="value" x="{}" y="{}">{}</text>',
                y + 19,
                _number(width),
                bar_height,
                _number(row.value),
                row.label,
                row.text,
                _number(width + 6),
                y + 32,
                row.text,
            )
        )
    return _frame(chart_id, title, description, height, format_html_join("", "{}", ((p,) for p in parts)))
