"""Broken and tampering submissions against the real hidden suites: each gets a clear reason on
the affected tests, gains no point it did not earn, and the other exercise still scores in full."""

from __future__ import annotations

import re

from autograder.manifest import load_manifest
from autograder.results import Outcome
from autograder.runner import grade

EX12 = ["ex1", "ex2"]  # the two exercises these submissions break (and keep)


def outcomes(report, exercise):
    return {t.name: t.outcome for t in report.tests if t.exercise == exercise}


def exercise_score(report, exercise):
    return sum(t.score for t in report.tests if t.exercise == exercise)


def assert_full(report, exercise):
    bad = {n: o for n, o in outcomes(report, exercise).items() if o is not Outcome.PASSED}
    assert not bad, f"{exercise} should still score in full: {bad}"


def assert_all(report, exercise, outcome, *phrases):
    tests = [t for t in report.tests if t.exercise == exercise]
    assert tests and all(t.outcome is outcome for t in tests), outcomes(report, exercise)
    for t in tests:
        for phrase in phrases:
            assert phrase in t.feedback, (t.name, t.feedback)
    assert not report.has_grader_error, report.grader_errors


def solution(repo, name):
    return (repo / "solutions" / name).read_text()


def test_syntax_error_is_reported_with_file_and_line(make_submission, manifest, repo):
    source = solution(repo, "ex2_lenet.py").replace("class Net(nn.Module):", "class Net(nn.Module)")
    sub = make_submission("syntax", {"ex2_lenet.py": source})
    report = grade(sub, repo / "grading_tests", manifest, EX12)
    assert_all(report, "ex2", Outcome.ERROR, "SyntaxError", "ex2_lenet.py, line")
    assert_full(report, "ex1")


def test_missing_function_fails_only_the_tests_that_use_it(make_submission, manifest, repo):
    source = solution(repo, "ex1_shapes.py").replace("def linear_num_params(", "def linear_params(")
    sub = make_submission("missing", {"ex1_shapes.py": source})
    report = grade(sub, repo / "grading_tests", manifest, ["ex1"])
    failing = [t for t in report.tests if t.outcome is not Outcome.PASSED]
    assert failing and all("linear_num_params" in t.feedback for t in failing), failing
    assert 0 < report.score < report.max_score and not report.has_grader_error


def test_failing_import_is_reported(make_submission, manifest, repo):
    source = solution(repo, "ex2_lenet.py") + "\nimport torchviz_not_installed\n"
    sub = make_submission("badimport", {"ex2_lenet.py": source})
    report = grade(sub, repo / "grading_tests", manifest, EX12)
    assert_all(report, "ex2", Outcome.ERROR, "No module named 'torchviz_not_installed'",
               "not installed where your code is graded",  # what to do, and where the import is:
               f'ex2_lenet.py", line {source.count(chr(10))}')
    assert_full(report, "ex1")


def test_a_typo_in_an_import_gets_a_near_name(make_submission, manifest, repo):
    source = solution(repo, "ex1_shapes.py").replace("from __future__ import annotations\n",
                                                     "from __future__ import annotations\nimport maths\n", 1)
    report = grade(make_submission("maths", {"ex1_shapes.py": source}), repo / "grading_tests", manifest, ["ex1"])
    assert_all(report, "ex1", Outcome.ERROR, "No module named 'maths' (did you mean 'math'?)")


def test_code_that_fails_at_the_top_level_is_told_where_it_runs(make_submission, manifest, repo):
    source = (solution(repo, "ex2_lenet.py")
              + "\nimport urllib.error\nraise urllib.error.URLError('Temporary failure in name resolution')\n")
    report = grade(make_submission("download", {"ex2_lenet.py": source}), repo / "grading_tests", manifest, ["ex2"])
    assert_all(report, "ex2", Outcome.ERROR, "URLError", "at the top level of ex2_lenet.py",
               'if __name__ == "__main__":', "the grader has no network")


def test_a_data_file_read_at_import_is_explained(make_submission, manifest, repo):
    source = solution(repo, "ex2_lenet.py") + "\nLABELS = open('labels.csv').read()\n"
    sub = make_submission("readsdata", {"ex2_lenet.py": source, "labels.csv": "cat,dog\n"})
    report = grade(sub, repo / "grading_tests", manifest, ["ex2"])
    assert_all(report, "ex2", Outcome.ERROR, "FileNotFoundError", "labels.csv",
               "only the exercise files are used")


def test_a_module_that_fails_to_import_fails_every_test_of_its_exercise_as_such(make_submission, manifest, repo):
    # No hidden test may mistake the import error for a missing attribute or a wrong value.
    modules = {ex.module: solution(repo, ex.module) + "\nprint(undefined_name)\n" for ex in manifest.exercises}
    report = grade(make_submission("noimport", modules), repo / "grading_tests", manifest, list(manifest.names))
    for ex in manifest.exercises:
        tests = [t for t in report.tests if t.exercise == ex.name and t.outcome is not Outcome.NOT_GRADED]
        assert tests, ex.name
        for t in tests:
            assert t.outcome is Outcome.ERROR and f"importing {ex.module}" in t.feedback, (t.name, t.feedback)
            assert "NameError" in t.feedback and "undefined_name" in t.feedback, (t.name, t.feedback)
    assert report.score == 0 and not report.has_grader_error, report.grader_errors


def test_module_level_sys_exit_is_reported(make_submission, manifest, repo):
    source = solution(repo, "ex1_shapes.py") + "\nimport sys\nsys.exit()\n"
    sub = make_submission("sysexit", {"ex1_shapes.py": source})
    report = grade(sub, repo / "grading_tests", manifest, EX12)
    assert_all(report, "ex1", Outcome.ERROR, "SystemExit")
    assert_full(report, "ex2")


def test_module_level_os_exit_is_reported(make_submission, manifest, repo):
    source = solution(repo, "ex2_lenet.py") + "\nimport os\nos._exit(0)\n"
    sub = make_submission("osexit", {"ex2_lenet.py": source})
    report = grade(sub, repo / "grading_tests", manifest, EX12)
    assert_all(report, "ex2", Outcome.ERROR, "ended itself with exit code 0", "importing ex2_lenet.py")
    assert_full(report, "ex1")


def test_infinite_loop_in_one_function_times_out_only_its_tests(make_submission, fast_manifest, repo):
    source = solution(repo, "ex1_shapes.py")
    source, n = re.subn(r"(def pool2d_output_size\([^)]*\)[^:]*:\n)", r"\1    while True:\n        pass\n", source)
    assert n == 1
    sub = make_submission("loop", {"ex1_shapes.py": source})
    report = grade(sub, repo / "grading_tests", fast_manifest, ["ex1"])
    timed_out = [t for t in report.tests if t.outcome is Outcome.TIMEOUT]
    assert timed_out and all("pool2d_output_size" in t.feedback for t in timed_out)
    assert all(t.outcome in (Outcome.PASSED, Outcome.TIMEOUT) for t in report.tests)
    assert report.score > 0 and not report.has_grader_error


def test_an_exercise_that_keeps_timing_out_stops_at_its_run_limit(make_submission, fast_manifest, repo, tmp_path):
    text = fast_manifest.path.read_text().replace("run_seconds = 300", "run_seconds = 6")
    assert "run_seconds = 6" in text
    (tmp_path / "tight.toml").write_text(text)
    tight = load_manifest(tmp_path / "tight.toml")
    source, n = re.subn(r"(def conv2d_output_size\([^)]*\)[^:]*:\n)", r"\1    while True:\n        pass\n",
                        solution(repo, "ex1_shapes.py"))
    assert n == 1
    sub = make_submission("slow", {"ex1_shapes.py": source})
    report = grade(sub, repo / "grading_tests", tight, EX12)
    cut = [t for t in report.tests if "used up its run limit of 6 s" in t.feedback]
    assert cut and all(t.outcome is Outcome.TIMEOUT and t.exercise == "ex1" for t in cut)
    # the test that ran into the end of the run limit says so (not "the test's time limit of 1.8 s")
    shortened = [t for t in report.tests if "s left of ex1's run limit of 6 s" in t.feedback]
    assert len(shortened) <= 1 and not any("test's time limit" in t.feedback for t in report.tests)
    assert sum(t.duration for t in report.tests if t.exercise == "ex1") < 6 + 2 + 1  # the limit, one call more
    assert_full(report, "ex2")  # graded after ex1, with all of its own time
    assert not report.has_grader_error


def test_a_module_stuck_at_import_is_waited_for_once(make_submission, fast_manifest, repo):
    # training left at the top level of the module, as in a notebook exported as it is
    source = solution(repo, "ex2_lenet.py") + "\nwhile True:  # train forever\n    pass\n"
    sub = make_submission("toplevel", {"ex2_lenet.py": source})
    report = grade(sub, repo / "grading_tests", fast_manifest, EX12)
    assert_all(report, "ex2", Outcome.TIMEOUT, "importing ex2_lenet.py did not return within 2 s",
               "if __name__ ==")
    waited = [t.name for t in report.tests if t.exercise == "ex2" and t.duration >= 2]
    assert len(waited) == 1, waited  # the first test waited out the limit; the others failed at once
    assert_full(report, "ex1")


def test_a_changed_default_dtype_gets_a_dtype_hint(make_submission, manifest, repo):
    source = solution(repo, "ex2_lenet.py").replace("import torch\n", "import torch\ntorch.set_default_dtype(torch.float64)\n", 1)
    sub = make_submission("float64", {"ex2_lenet.py": source})
    report = grade(sub, repo / "grading_tests", manifest, ["ex2"])
    hinted = [t for t in report.tests if "torch.set_default_dtype" in t.feedback]
    assert hinted and not any("print x.shape" in t.feedback for t in hinted), [t.feedback for t in report.tests]
    assert not report.has_grader_error


CONFTEST = '''
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None
'''


def test_a_shipped_conftest_and_ini_are_ignored(make_submission, manifest, repo):
    sub = make_submission("conftest", {"conftest.py": CONFTEST, "pytest.ini": "[pytest]\naddopts = -p no:autograder\n",
                                       "tests/conftest.py": CONFTEST}, base="student_template")
    report = grade(sub, repo / "grading_tests", manifest, EX12)
    assert report.score == 0 and all(t.outcome is Outcome.NOT_IMPLEMENTED for t in report.tests)
    assert report.meta["ignored_files"] == "conftest.py, pytest.ini"


TAMPER = '''
import sys, torch, torch.testing
torch.testing.assert_close = lambda *a, **k: None
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.Tensor.__eq__ = lambda self, other: True
import pytest
pytest.fail = lambda *a, **k: None
import _pytest.runner
_pytest.runner.pytest_runtest_makereport = lambda item, call: None
'''


def test_monkeypatching_torch_and_pytest_gains_nothing(make_submission, manifest, repo):
    wrong = solution(repo, "ex2_lenet.py").replace("x = self.fc3(x)", "x = F.softmax(self.fc3(x), dim=1)")
    assert wrong != solution(repo, "ex2_lenet.py")
    plain = grade(make_submission("wrong", {"ex2_lenet.py": wrong}), repo / "grading_tests", manifest, ["ex2"])
    tampered = grade(make_submission("tamper", {"ex2_lenet.py": wrong + TAMPER}), repo / "grading_tests",
                     manifest, ["ex2"])
    assert plain.score < plain.max_score
    assert outcomes(tampered, "ex2") == outcomes(plain, "ex2") and tampered.score == plain.score


def test_modules_one_folder_down_and_under_near_names_are_graded_and_said_so(tmp_path, manifest, repo):
    sub = tmp_path / "repo-clone"
    (sub / "lab").mkdir(parents=True)
    (sub / "lab" / "ex1_shapes.py").write_text(solution(repo, "ex1_shapes.py"))
    (sub / "lab" / "ex2_lenet (1).py").write_text(solution(repo, "ex2_lenet.py"))  # a browser's re-download
    report = grade(sub, repo / "grading_tests", manifest, EX12)
    assert report.score == report.max_score == 40, [t.feedback for t in report.tests if t.score < t.max_score]
    assert "lab/, one folder down" in report.meta["files"]
    assert "graded ex2_lenet (1).py as ex2_lenet.py" in report.meta["files"]
    assert "ex2_lenet (1).py" not in report.meta.get("ignored_files", "")

    two = tmp_path / "two"
    two.mkdir()
    (two / "ex1_shapes.py").write_text(solution(repo, "ex1_shapes.py"))
    for near in ("Ex2_LeNet.py", "ex2-lenet.py"):  # which one? not guessed
        (two / near).write_text(solution(repo, "ex2_lenet.py"))
    report = grade(two, repo / "grading_tests", manifest, EX12)
    assert_all(report, "ex2", Outcome.ERROR, "no ex2_lenet.py")
    assert_full(report, "ex1")
