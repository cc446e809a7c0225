"""Runs inside otter-grader's grading kernel, called by the test files ``grade export otter`` writes.

Each otter test case asks for one hidden test's result with :func:`check`. The first call grades
the submission's exercise modules with the hidden suites through :func:`autograder.runner.grade`
(the trusted test process and the isolated worker, exactly as ``grade check``); later calls read
the same report, so a submission is graded once however many cases there are.

The assignment bundle (manifest, hidden suites, solutions) is read from otter's own source folder,
``../source/files/cnn_assignment`` seen from the submission folder otter grades in: never from the
copy otter puts next to the submission, which a submission could have pre-empted with a folder of
the same name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from autograder.results import Outcome, Report

__all__ = ["BUNDLE_DIR", "BUNDLE_CONFIG", "OtterBundleError", "bundle_root", "report_for", "check"]

BUNDLE_DIR = "cnn_assignment"
BUNDLE_CONFIG = "cnn_otter.json"

_reports: dict[Path, Report] = {}


class OtterBundleError(RuntimeError):
    """The assignment bundle is missing or malformed: the autograder zip was not built as exported."""


def bundle_root(submission: Path | None = None) -> Path:
    """The bundle in otter's source folder, ``<autograder>/source/files/cnn_assignment``."""
    submission = Path(submission or Path.cwd()).resolve()
    root = submission.parent / "source" / "files" / BUNDLE_DIR
    if not (root / BUNDLE_CONFIG).is_file():
        raise OtterBundleError(f"grader error, not your code: the assignment bundle is missing ({root}); "
                               f"build the autograder zip with the files `grade export otter` wrote")
    return root


def report_for(submission: Path | None = None) -> Report:
    """The report for the submission in ``submission`` (default: the current folder), graded once."""
    from autograder.manifest import ManifestError, load_manifest
    from autograder.runner import GradeInputError, grade
    from autograder.submissions import find_module_folder

    submission = Path(submission or Path.cwd()).resolve()
    root = bundle_root(submission)
    try:
        config = json.loads((root / BUNDLE_CONFIG).read_text(encoding="utf-8"))
        manifest = load_manifest(root / config["manifest"])
        exercises, profile = tuple(config["exercises"]), str(config.get("profile", "auto"))
    except (OSError, ValueError, KeyError, TypeError, ManifestError) as exc:
        raise OtterBundleError(f"grader error, not your code: the assignment bundle is malformed ({exc})") from None
    folder = find_module_folder(submission, manifest.modules) or submission
    if folder not in _reports:
        try:
            data = os.environ.get("CIFAR10_DIR")  # the grading image's CIFAR-10, for exported accuracy tests
            _reports[folder] = grade(folder, manifest.hidden_tests, manifest, exercises, profile=profile,
                                     data_dir=Path(data) if data and Path(data).is_dir() else None)
        except GradeInputError as exc:
            raise AssertionError(f"your submission could not be graded: {exc}") from None
    return _reports[folder]


def check(exercise: str, test_id: str) -> None:
    """Return when the hidden test ``test_id`` passed; otherwise raise ``AssertionError`` with the
    test's feedback (never its source), which otter shows as the case's failure message."""
    report = report_for()
    result = next((t for t in report.tests if t.id == test_id and t.exercise == exercise), None)
    if result is None:
        why = "; ".join(report.grader_errors) or "the hidden suite has no such test any more (export again)"
        raise AssertionError(f"grader error, not your code: {exercise} {test_id} was not run: {why}")
    if result.outcome is Outcome.PASSED:
        return
    if result.outcome is Outcome.NOT_GRADED:
        raise AssertionError(f"not graded here: {result.feedback}")
    prefix = "grader error, not your code: " if result.grader_error else ""
    raise AssertionError(f"{prefix}{result.feedback or result.outcome.value}")
