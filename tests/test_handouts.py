"""The handouts tell students what the hidden suites check and for how many points: each handout's
"Hidden tests, N points" table adds up to N, and N is what the exercise's hidden tests are worth
(the accuracy tests, with their own table, apart)."""

from __future__ import annotations

import re

import pytest

POINTS = re.compile(r"^@pytest\.mark\.points\((\d+)\)", re.M)
EXERCISE = re.compile(r'pytest\.mark\.exercise\("(ex\d+)"\)')


def _hidden_points(manifest, exercise: str) -> int:
    """Points of the exercise's hidden tests, from the markers (accuracy tests excluded: their
    points depend on the profile and have their own table)."""
    total = 0
    for path in manifest.hidden_tests.glob("test_*.py"):
        text = path.read_text()
        found = EXERCISE.search(text)
        if found and found.group(1) == exercise and "pytest.mark.accuracy" not in text:
            total += sum(int(n) for n in POINTS.findall(text))
    return total


def _table(handout: str) -> tuple[int, list[int]]:
    """(the points the hidden tests are announced to be worth, the points column of their table).

    Two layouts: "Hidden tests, N points:" then a table whose first column is the points, or a
    "| checks | points |" table whose last row is the **total**."""
    heading = re.search(r"^Hidden tests, (\d+) points:\s*$", handout, re.M)
    if heading:
        lines, column, announced = handout[heading.end():].lstrip("\n").splitlines(), 1, int(heading.group(1))
    else:
        start = handout.index("| checks | points |")
        lines, column, announced = handout[start:].splitlines(), -2, None
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        cell = line.split("|")[column].strip()
        if cell.startswith("**") and announced is None:
            announced = int(cell.strip("*"))
        elif cell.isdigit():
            rows.append(int(cell))
    assert announced is not None, "no total of the hidden tests' points"
    return announced, rows


@pytest.mark.parametrize("exercise", ["ex1", "ex2", "ex3", "ex4", "ex5", "ex6"])
def test_handout_points_match_the_hidden_suite(manifest, exercise):
    handout = (manifest.path.parent / f"{exercise}.md").read_text()
    announced, rows = _table(handout)
    assert sum(rows) == announced, f"{exercise}.md: the table adds up to {sum(rows)}, not {announced}"
    assert len(rows) >= 5
    hidden = _hidden_points(manifest, exercise)
    assert hidden == announced, f"{exercise}.md announces {announced} points; the hidden tests are worth {hidden}"
