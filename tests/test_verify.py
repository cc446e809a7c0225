from __future__ import annotations

import dataclasses

import pytest

from autograder.mutants import MutantError, load_mutants, materialize
from autograder.results import Outcome, Report, TestResult
from autograder.verify import _caught, verify


def report(*outcomes: Outcome, grader_errors=()) -> Report:
    tests = tuple(TestResult("ex1", f"t{i}", f"t{i}", o, 1.0 if o is Outcome.PASSED else 0.0, 1.0)
                  for i, o in enumerate(outcomes))
    return Report(("ex1",), tests, tuple(grader_errors))


def test_a_mutant_that_passes_everything_is_reported_as_not_caught():
    check = _caught("noop", "changes nothing", report(Outcome.PASSED, Outcome.PASSED))
    assert not check.ok and "NOT caught" in check.detail
    assert _caught("m", "d", report(Outcome.PASSED, Outcome.FAILED)).ok
    assert not _caught("m", "d", report(Outcome.FAILED, grader_errors=["boom"])).ok


def test_mutants_are_at_least_eight_per_exercise_and_all_apply(manifest, tmp_path):
    mutants = load_mutants(manifest.mutants)
    for exercise in ("ex1", "ex2"):
        assert len([m for m in mutants if m.exercise == exercise]) >= 8
    for m in mutants:
        folder = materialize(m, manifest.solutions, tmp_path / m.name)
        assert (folder / m.module).read_text() != (manifest.solutions / m.module).read_text()
        assert m.description.strip() and "\n" not in m.description


def test_a_stale_mutant_fails_loudly(tmp_path, manifest):
    (tmp_path / "ex1.toml").write_text(
        'exercise = "ex1"\nmodule = "ex1_shapes.py"\n[[mutant]]\nname = "stale"\ndescription = "x"\n'
        '[[mutant.replace]]\nold = "text that is not in the solution"\nnew = "y"\n')
    (mutant,) = load_mutants(tmp_path)
    with pytest.raises(MutantError, match="occurs 0 times"):
        materialize(mutant, manifest.solutions, tmp_path / "out")


def test_verify_holds_for_the_shipped_assignment(manifest):
    checks = verify(manifest, jobs=2, quick=True)  # `grade verify` without --quick lists every catching test
    failed = [c for c in checks if not c.ok]
    assert not failed, "\n".join(f"{c.subject} ({c.suite}): {c.detail}" for c in failed)
    subjects = {c.subject for c in checks}
    assert {"solutions", "template"} <= subjects and len(checks) >= 4 + 16


def test_mutants_of_an_exercise_the_manifest_lacks_stop_verify_before_grading(tmp_path, manifest):
    (tmp_path / "ex1.toml").write_text(
        'exercise = "shapes"\nmodule = "ex1_shapes.py"\n[[mutant]]\nname = "renamed"\ndescription = "x"\n'
        '[[mutant.replace]]\nold = "x"\nnew = "y"\n')
    renamed = dataclasses.replace(manifest, mutants=tmp_path)  # its exercise was renamed in the manifest
    with pytest.raises(MutantError, match=r"mutant 'renamed' is for exercise 'shapes', which the manifest does not have"):
        verify(renamed, exercises=["ex1"])
