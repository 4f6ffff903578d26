"""The timeline chart: SVG drawn by the app, with its title, description and table."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

from sendsearch.chat.chart import timeline_html
from sendsearch.search.request import Timeline

TIMELINE = Timeline((("2024-11", 1), ("2024-12", 0), ("2025-01", 4), ("2025-02", 2)), undated=3, matches=10)


def test_the_chart_is_svg_with_a_bar_per_month_a_title_and_a_description():
    html = timeline_html(TIMELINE, "r1-timeline")
    svg = re.search(r"<svg.*</svg>", html, flags=re.S)
    assert svg is not None
    # The app's own markup, parsed to check its structure.
    root = ET.fromstring(svg.group().replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))  # noqa: S314
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "r1-timeline-title r1-timeline-desc"
    assert root.findtext(f"{ns}title") == "Matching answers by month"
    assert root.findtext(f"{ns}desc") == (
        "10 good matches from November 2024 to February 2025; most in January 2025 (4); 3 without a date."
    )
    bars = root.findall(f"{ns}rect")
    assert [bar.findtext(f"{ns}title") for bar in bars] == [
        "November 2024: 1",
        "December 2024: 0",
        "January 2025: 4",
        "February 2025: 2",
    ]
    heights = [float(bar.get("height") or "nan") for bar in bars]
    assert heights[2] == max(heights)
    assert heights[1] == 0
    assert [t.text for t in root.findall(f"{ns}text") if t.get("class") == "label"][-2:] == ["2024", "2025"]


def test_the_chart_has_a_table_of_the_same_counts_and_nothing_without_dates():
    html = timeline_html(TIMELINE, "t")
    assert "<summary>Matching answers by month, as a table</summary>" in html
    rows = re.findall(r"<tr><td>([^<]+)</td><td>(\d+)</td></tr>", html)
    assert rows == [
        ("November 2024", "1"),
        ("December 2024", "0"),
        ("January 2025", "4"),
        ("February 2025", "2"),
        ("Without a date", "3"),
    ]
    assert timeline_html(Timeline((), undated=2, matches=2), "t") == ""
    assert timeline_html(None, "t") == ""


def _months(first: str, count: int) -> tuple[tuple[str, int], ...]:
    year, month = map(int, first.split("-"))
    out = []
    for _ in range(count):
        out.append((f"{year}-{month:02d}", 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return tuple(out)


def _year_labels(html: str) -> list[tuple[float, str]]:
    found = re.findall(r'<text x="([\d.]+)" y="144" class="label">(\d{4})</text>', html)
    return [(float(x), year) for x, year in found]


def test_the_years_under_the_axis_never_overlap_or_run_off_the_chart():
    # December 2023 then 18 months: the first year's label and January 2024's were drawn on
    # top of each other (a newcomer's screenshot at phone size).
    labels = _year_labels(timeline_html(Timeline(_months("2023-12", 19), undated=0, matches=19), "t"))
    assert [year for _, year in labels] == ["2024", "2025"]
    for first, count in [("2023-12", 19), ("2010-01", 180), ("2020-06", 3), ("2019-11", 62), ("2024-01", 1)]:
        labels = _year_labels(timeline_html(Timeline(_months(first, count), undated=0, matches=count), "t"))
        assert labels, (first, count)
        xs = [x for x, _ in labels]
        assert all(b - a >= 36 for a, b in itertools.pairwise(xs)), (first, count, labels)
        assert max(xs) <= 360 - 36, (first, count, labels)
        years = [int(year) for _, year in labels]
        assert years == sorted(set(years)), (first, count, labels)
    # Over fifteen years every other year is named.
    labels = _year_labels(timeline_html(Timeline(_months("2010-01", 180), undated=0, matches=180), "t"))
    assert [year for _, year in labels][:3] == ["2010", "2012", "2014"]
