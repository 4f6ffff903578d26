"""The timeline of a reply as a chart drawn here, in SVG: no library, no request to any host.

A bar per month of the good matches (``SearchResult.timeline``), scaled to the page's width
(a ``viewBox``), readable at phone size: the years under the axis, the highest count beside
it. Screen readers get the chart's title and a description in words, and everyone gets the
counts as a table under "Matching answers by month, as a table". Nothing here comes from a
document: months and counts only, and they are escaped all the same.
"""

from __future__ import annotations

import calendar
from html import escape

from ..search.request import Timeline

__all__ = ["timeline_html"]

_WIDTH, _HEIGHT = 360, 150
_LEFT, _BOTTOM, _TOP = 28, 22, 10
# How far apart two years under the axis must start: "2024" at the labels' 13 px is about
# 31 units wide, and a little air keeps neighbours readable.
_YEAR_GAP = 36.0


def _month_name(month: str) -> str:
    year, number = month.split("-")
    return f"{calendar.month_name[int(number)]} {year}"


def _describe(timeline: Timeline) -> str:
    """The chart in words: span, busiest month, undated."""
    months = timeline.months
    busiest = max(months, key=lambda item: item[1])
    words = (
        f"{timeline.matches} good matches from {_month_name(months[0][0])} to {_month_name(months[-1][0])}; "
        f"most in {_month_name(busiest[0])} ({busiest[1]})"
    )
    return words + (f"; {timeline.undated} without a date." if timeline.undated else ".")


def _year_labels(months: tuple[tuple[str, int], ...], step: float) -> list[tuple[float, str]]:
    """Where the years go under the axis, as (x, year): each January, and the first month's
    year when no January follows within a label's width; a label too close to the one before
    it is left out (over many years every other year is named, and so on), and none runs off
    the right edge."""
    januaries = [number for number, (month, _) in enumerate(months) if month.endswith("-01")]
    starts = januaries if januaries and januaries[0] * step < _YEAR_GAP else [0, *januaries]
    labels: list[tuple[float, str]] = []
    for number in starts:
        x = min(_LEFT + number * step, _WIDTH - _YEAR_GAP)
        if not labels or x - labels[-1][0] >= _YEAR_GAP:
            labels.append((x, months[number][0][:4]))
    return labels


def _svg(timeline: Timeline, chart_id: str) -> str:
    months = timeline.months
    top = max(count for _, count in months) or 1
    plot_width = _WIDTH - _LEFT - 4
    plot_height = _HEIGHT - _BOTTOM - _TOP
    step = plot_width / len(months)
    bar = max(step * 0.8, 1.0)
    parts = [
        f'<svg class="timeline-chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{chart_id}-title">Matching answers by month</title>',
        f'<desc id="{chart_id}-desc">{escape(_describe(timeline))}</desc>',
        f'<line x1="{_LEFT}" y1="{_TOP + plot_height}" x2="{_WIDTH - 2}" y2="{_TOP + plot_height}" class="axis"/>',
        f'<text x="{_LEFT - 4}" y="{_TOP + 8}" text-anchor="end" class="label">{top}</text>',
        f'<text x="{_LEFT - 4}" y="{_TOP + plot_height}" text-anchor="end" class="label">0</text>',
    ]
    for number, (month, count) in enumerate(months):
        height = plot_height * count / top
        x = _LEFT + number * step + (step - bar) / 2
        y = _TOP + plot_height - height
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" class="bar">'
            f"<title>{escape(_month_name(month))}: {count}</title></rect>"
        )
    parts += [
        f'<text x="{x:.1f}" y="{_HEIGHT - 6}" class="label">{escape(year)}</text>'
        for x, year in _year_labels(months, step)
    ]
    parts.append("</svg>")
    return "".join(parts)


def timeline_html(timeline: Timeline | None, chart_id: str) -> str:
    """The chart and its table, or "" when no good match has a date."""
    if timeline is None or not timeline.months:
        return ""
    rows = "".join(f"<tr><td>{escape(_month_name(m))}</td><td>{count}</td></tr>" for m, count in timeline.months)
    if timeline.undated:
        rows += f"<tr><td>Without a date</td><td>{timeline.undated}</td></tr>"
    return (
        '<figure class="timeline">'
        f"<figcaption>Matching answers by month ({timeline.matches} good matches among the best 100)</figcaption>"
        f"{_svg(timeline, chart_id)}"
        "<details><summary>Matching answers by month, as a table</summary>"
        '<table><thead><tr><th scope="col">Month</th><th scope="col">Answers</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></details></figure>"
    )
