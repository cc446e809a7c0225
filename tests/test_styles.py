"""Correct submissions in other styles (tests/styles, examples/correct) get full marks from the
hidden suites: the suites test the rule the spec states, not the way the reference is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autograder.batch import BatchOptions, RowStatus, grade_batch
from autograder.engines import Engine
from autograder.results import Outcome

REPO = Path(__file__).resolve().parents[1]
STYLES = sorted(p for p in (REPO / "tests" / "styles").iterdir() if p.is_dir())


@pytest.fixture(scope="module")
def graded(tmp_path_factory, manifest):
    """One batch of every style (each folder's modules over the reference's), all exercises."""
    root = tmp_path_factory.mktemp("styles")
    subs = root / "subs"
    for style in STYLES + [REPO / "examples" / "correct"]:
        folder = subs / style.name
        folder.mkdir(parents=True)
        for exercise in manifest.exercises:
            own = style / exercise.module
            shutil.copyfile(own if own.exists() else manifest.solutions / exercise.module, folder / exercise.module)
    options = BatchOptions(tests=manifest.hidden_tests, exercises=manifest.names, jobs=2, engine=Engine.server)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CIFAR10_DIR", raising=False)  # accuracy is test_accuracy.py's job: minutes per style
        rows = grade_batch(subs, root / "out", manifest, options)
    return {row.student: row for row in rows}


def test_styles_cover_every_exercise_several_times(manifest):
    for exercise in manifest.exercises:
        rewritten = [s.name for s in STYLES if (s / exercise.module).exists()]
        assert len(rewritten) >= 3, f"{exercise.name} is rewritten only in {rewritten}"


@pytest.mark.parametrize("style", [s.name for s in STYLES] + ["correct"])
def test_style_gets_full_marks(graded, style):
    row = graded[style]
    assert row.status is RowStatus.GRADED and row.report is not None, row.reason
    lost = [f"{t.exercise} {t.name}: {t.feedback[:300]}" for t in row.report.tests
            if t.score < t.max_score and t.outcome is not Outcome.NOT_GRADED]
    assert not lost, f"tests/styles/{style} is correct but lost points:\n" + "\n".join(lost)
    graded_max = sum(t.max_score for t in row.report.tests if t.outcome is not Outcome.NOT_GRADED)
    assert graded_max >= 100, f"only {graded_max} points were graded"
