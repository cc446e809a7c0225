"""The batch summary for TAs: one self-contained HTML page (``summary.html``) read from the batch rows.

A header (title, submissions, counts per status, mean and median total of the graded rows), two kinds of plots
(the points per exercise, the most-failed tests) embedded as base64 PNG, the most-failed tests as
a list, and the gradebook as a table. Nothing is fetched from elsewhere: the page opens offline,
from a zip, from an LMS upload.
matplotlib is optional (``pip install 'cnn-autograder[batch]'``); without it the page has no plots.
Student names and reasons are untrusted text: everything not written here is escaped.
"""

from __future__ import annotations

import base64
import html
import io
import statistics
from collections import Counter
from typing import Sequence

from autograder.batch import BatchRow, RowStatus
from autograder.results import Outcome

__all__ = ["render_summary", "most_failed"]

_NOT_PASSED = (Outcome.FAILED, Outcome.ERROR, Outcome.NOT_IMPLEMENTED, Outcome.TIMEOUT)
_TOP = 15
_INSTALL_HINT = "Plots need matplotlib: <code>pip install 'cnn-autograder[batch]'</code>"

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { margin-bottom: 0.2em; }
.stats span { display: inline-block; margin-right: 1.5em; }
.plots img { margin: 0.5em 1em 0.5em 0; border: 1px solid #ddd; vertical-align: top; }
table { border-collapse: collapse; margin-top: 1em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.unreadable td { background: #fff4e0; }
tr.grader_error td { background: #fde8e8; }
.note { color: #666; }
"""


def _exercise_max(rows: Sequence[BatchRow], exercise: str) -> float:
    """The most points an exercise was worth in any report (0 when no row has a report)."""
    return max((t.max_score for r in rows if r.report for t in r.report.by_exercise() if t.exercise == exercise),
               default=0.0)


def most_failed(rows: Sequence[BatchRow], top: int = _TOP) -> list[tuple[str, int]]:
    """``("exN test_name", count)`` of the tests most often not passed among graded rows, most first.

    Counted: failed, error, not implemented, timeout; not counted: not graded (no data, no GPU),
    and rows that are unreadable or hit a grader error (their outcomes say nothing about the student).
    """
    counts = Counter(f"{t.exercise} {t.name}" for r in rows if r.status is RowStatus.GRADED and r.report
                     for t in r.report.tests if t.outcome in _NOT_PASSED)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _plots(rows: Sequence[BatchRow], exercises: Sequence[str]) -> list[tuple[str, str]]:
    """``(alt text, base64 PNG)`` per plot; raises ImportError when matplotlib is not installed."""
    import matplotlib

    matplotlib.use("Agg")  # no display, no GUI event loop: the batch may run on a headless server
    import matplotlib.pyplot as plt

    images = []
    for exercise in exercises:
        top = _exercise_max(rows, exercise)
        fig, ax = plt.subplots(figsize=(3.6, 2.4))
        try:
            if top == int(top) and 1 <= top <= 25:  # a bar centred on each whole point
                bins, span = [k - 0.5 for k in range(int(top) + 2)], None
            else:
                bins, span = 20, (0, top or 1)
            ax.hist([r.points(exercise) for r in rows], bins=bins, range=span, color="#4c72b0", edgecolor="white")
            ax.set_title(f"{exercise} (max {top:g})", fontsize=10)
            ax.set_xlabel("points", fontsize=8)
            ax.set_ylabel("submissions", fontsize=8)
            ax.yaxis.get_major_locator().set_params(integer=True)
            ax.tick_params(labelsize=8)
            images.append((f"{exercise}: distribution of points", _png(fig)))
        finally:
            plt.close(fig)
    failed = most_failed(rows)
    if failed:
        labels, counts = [label for label, _ in reversed(failed)], [n for _, n in reversed(failed)]
        fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(failed) + 1.0))
        try:
            ax.barh(labels, counts, color="#c44e52")
            ax.set_title("most-failed tests (graded submissions)", fontsize=10)
            ax.set_xlabel("submissions not passing", fontsize=8)
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.tick_params(labelsize=8)
            images.append(("most-failed tests", _png(fig)))
        finally:
            plt.close(fig)
    return images


def _header(rows: Sequence[BatchRow], title: str) -> str:
    statuses = Counter(r.status for r in rows)
    # of the graded rows only: an unreadable submission's 0 or a grader error's partial points would
    # pull the figures down for reasons that say nothing about how the class did
    totals = [r.total for r in rows if r.status is RowStatus.GRADED]
    mean = f"{round(statistics.fmean(totals), 2):g}" if totals else "–"
    median = f"{statistics.median(totals):g}" if totals else "–"
    stats = [f"<span><b>{len(rows)}</b> submissions</span>",
             *(f"<span>{html.escape(s.value)}: <b>{statuses[s]}</b></span>" for s in RowStatus),
             f"<span>mean total (graded): <b>{mean}</b></span>",
             f"<span>median total (graded): <b>{median}</b></span>"]
    return f"<h1>{html.escape(title)}</h1>\n<p class=\"stats\">{''.join(stats)}</p>"


def _plot_section(rows: Sequence[BatchRow], exercises: Sequence[str]) -> str:
    try:
        images = _plots(rows, exercises)
    except ImportError:
        return f"<p class=\"note\">{_INSTALL_HINT}</p>"
    if not images:
        return ""
    tags = "\n".join(f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">' for alt, data in images)
    return f"<div class=\"plots\">\n{tags}\n</div>"


def _failed_list(rows: Sequence[BatchRow]) -> str:
    failed = most_failed(rows)
    if not failed:
        return ""
    items = "\n".join(f"<li><code>{html.escape(label)}</code>: {count}</li>" for label, count in failed)
    return ("<h2>Most-failed tests</h2>\n<p class=\"note\">graded submissions not passing each test</p>\n"
            f"<ol>\n{items}\n</ol>")


def _table(rows: Sequence[BatchRow], exercises: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ("student", *exercises, "total", "max", "status", "reason"))
    body = []
    for row in sorted(rows, key=lambda r: r.student):
        points = [row.points(e) for e in exercises] + [row.total, row.max_score]
        cells = [f"<td>{html.escape(row.student)}</td>", *(f'<td class="num">{p:g}</td>' for p in points),
                 f"<td>{html.escape(row.status.value)}</td>", f"<td>{html.escape(row.reason)}</td>"]
        body.append(f'<tr class="{html.escape(row.status.value)}">{"".join(cells)}</tr>')
    rows_html = "\n".join(body)
    return f"<h2>Gradebook</h2>\n<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows_html}\n</tbody>\n</table>"


def render_summary(rows: Sequence[BatchRow], exercises: Sequence[str], title: str) -> str:
    """One self-contained HTML page: header, plots (when matplotlib is installed), gradebook table."""
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        f"<title>{html.escape(title)}: batch summary</title>",
        f"<style>{_CSS}</style></head>",
        "<body>",
        _header(rows, title),
        _plot_section(rows, exercises),
        _failed_list(rows),
        _table(rows, exercises),
        "</body>",
        "</html>",
        "",
    ])
