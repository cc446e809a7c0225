"""The batch summary page: self-contained HTML, escaped, plots when matplotlib is there, none when not."""

from __future__ import annotations

import base64
import re
import sys

import pytest

from autograder.batch import BatchRow, RowStatus
from autograder.results import Outcome, Report, TestResult
from autograder.summary import most_failed, render_summary

EXERCISES = ("ex1", "ex2")
HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_REASON = "1 error (<b>bold</b> & friends)"


def result(exercise: str, name: str, outcome: Outcome, max_score: float = 10.0) -> TestResult:
    score = max_score if outcome is Outcome.PASSED else 0.0
    return TestResult(exercise, f"{exercise}::{name}", name, outcome, score, max_score)


def report(ex1: Outcome, ex2_shape: Outcome, ex2_train: Outcome = Outcome.PASSED) -> Report:
    return Report(exercises=EXERCISES, tests=(
        result("ex1", "test_output_shape", ex1),
        result("ex1", "test_conv_arithmetic", Outcome.PASSED),
        result("ex2", "test_lenet_shape", ex2_shape),
        result("ex2", "test_lenet_trains", ex2_train),
    ))


@pytest.fixture
def rows() -> list[BatchRow]:
    ok, failed, error, ni = Outcome.PASSED, Outcome.FAILED, Outcome.ERROR, Outcome.NOT_IMPLEMENTED
    return [
        BatchRow("zoe", RowStatus.GRADED, "", report(ok, ok)),
        BatchRow("alice", RowStatus.GRADED, "", report(failed, failed, failed)),
        BatchRow("bob", RowStatus.GRADED, "", report(failed, error, Outcome.NOT_GRADED)),
        BatchRow(HOSTILE_NAME, RowStatus.GRADED, HOSTILE_REASON, report(ni, Outcome.TIMEOUT)),
        BatchRow("carol", RowStatus.UNREADABLE, "no exercise module found", None),
        # a grader error says nothing about the student: its outcomes are not counted as failures
        BatchRow("dave", RowStatus.GRADER_ERROR, "grader error: boom", report(ok, failed, failed)),
    ]


def images(page: str) -> list[bytes]:
    return [base64.b64decode(data, validate=True)
            for data in re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def table_rows(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr[ >].*?</tr>", body)


def test_the_header_has_the_title_counts_and_totals(rows):
    page = render_summary(rows, EXERCISES, "CNN <Assignment> 1")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "CNN &lt;Assignment&gt; 1" in page and "<Assignment>" not in page
    assert "<b>6</b> submissions" in page
    assert "graded: <b>4</b>" in page and "unreadable: <b>1</b>" in page and "grader_error: <b>1</b>" in page
    # graded totals 40, 10, 10, 20 -> mean 20, median 15 (the unreadable 0 and the grader error's 20 left out)
    assert "mean total (graded): <b>20</b>" in page and "median total (graded): <b>15</b>" in page


def test_one_table_row_per_student_sorted_and_escaped(rows):
    page = render_summary(rows, EXERCISES, "A1")
    found = table_rows(page)
    assert len(found) == len(rows)
    names = [re.search(r"<td>(.*?)</td>", row).group(1) for row in found]
    assert names == sorted(["zoe", "alice", "bob", "&lt;script&gt;alert(1)&lt;/script&gt;", "carol", "dave"])
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt; &amp; friends" in page
    zoe = next(row for row in found if "<td>zoe</td>" in row)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", zoe)
    assert cells == ["zoe", "20", "20", "40", "40", "graded", ""]
    carol = next(row for row in found if "<td>carol</td>" in row)
    assert "unreadable" in carol and "no exercise module found" in carol


def test_the_page_is_self_contained(rows):
    pytest.importorskip("matplotlib")
    page = render_summary(rows, EXERCISES, "A1")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<link" not in page and "<script" not in page


def test_the_most_failed_tests_count_only_graded_rows_and_non_passed_outcomes(rows):
    assert most_failed(rows) == [("ex1 test_output_shape", 3), ("ex2 test_lenet_shape", 3),
                                 ("ex2 test_lenet_trains", 1)]


def test_the_page_lists_the_most_failed_tests(rows):
    page = render_summary(rows, EXERCISES, "A1")
    listed = re.findall(r"<li><code>(.*?)</code>: (\d+)</li>", page)
    assert listed == [("ex1 test_output_shape", "3"), ("ex2 test_lenet_shape", "3"), ("ex2 test_lenet_trains", "1")]


def test_plots_are_embedded_png_and_nothing_leaks(rows):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    page = render_summary(rows, EXERCISES, "A1")
    pngs = images(page)
    assert len(pngs) >= 2 and all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in pngs)
    assert len(pngs) == len(EXERCISES) + 1  # a histogram per exercise, the most-failed bar chart
    assert "ex1: distribution of points" in page and "most-failed tests" in page
    assert "pip install" not in page
    assert plt.get_fignums() == []


def test_without_matplotlib_the_page_has_the_header_the_table_and_the_install_hint(rows, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    page = render_summary(rows, EXERCISES, "A1")
    assert images(page) == [] and "<img" not in page
    assert "pip install 'cnn-autograder[batch]'" in page
    assert "<h1>A1</h1>" in page and len(table_rows(page)) == len(rows)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "ex1 test_output_shape" in page


def test_an_empty_batch_still_renders():
    page = render_summary([], EXERCISES, "A1")
    assert "<b>0</b> submissions" in page and "mean total (graded): <b>–</b>" in page
    assert table_rows(page) == []
