from __future__ import annotations

import pytest

from autograder.errors import StudentError, StudentNotImplemented, WorkerDied, WorkerTimeout
from autograder.outcomes import classify
from autograder.testing import called_as
from autograder.results import Outcome


def test_passed_and_not_graded():
    assert classify(None) == (Outcome.PASSED, "", False)
    assert classify(None, "CIFAR-10 not found") == (Outcome.NOT_GRADED, "CIFAR-10 not found", False)


def test_assertion_message_is_the_feedback_with_the_smallest_input():
    exc = AssertionError("conv2d_output_size(7, 3, stride=2) returned 2, PyTorch gives 3")
    exc.add_note("Falsifying example: test_conv_matches_pytorch(\n    student=<x>,\n    size=7,\n    stride=2,\n)")
    outcome, feedback, grader = classify(exc)
    assert outcome is Outcome.FAILED and not grader
    assert feedback.splitlines() == ["conv2d_output_size(7, 3, stride=2) returned 2, PyTorch gives 3",
                                     "smallest failing input: size=7, stride=2"]


def test_student_exception_shows_where_and_their_traceback():
    exc = StudentError(["ValueError", "Exception"], "bad", '  File "ex1_shapes.py", line 3, in f\n', "ex1_shapes.f(...)")
    outcome, feedback, grader = classify(exc)
    assert outcome is Outcome.ERROR and not grader
    assert feedback.startswith("ex1_shapes.f: your code raised ValueError: bad") and "ex1_shapes.py" in feedback


@pytest.mark.parametrize("message, advice", [
    ("cannot assign module before Module.__init__() call", "call super().__init__() first"),
    ("list is not a Module subclass", "nn.Sequential(*layers)"),
    ("Expected more than 1 value per channel when training, got input size [1, 8]", "drop_last=True"),
])
def test_well_known_pytorch_errors_come_with_advice(message, advice):
    _, feedback, _ = classify(StudentError(["RuntimeError"], message, "", "ex2_lenet.Net(...)"))
    assert feedback.startswith(f"ex2_lenet.Net: your code raised RuntimeError: {message} Hint: ") and advice in feedback
    hinted = StudentError(["RuntimeError"], f"{message}. Hint: the test's own", "", "x")
    assert classify(hinted)[1].count("Hint:") == 1  # a test's own hint is not doubled


def test_a_grader_helper_is_named_by_what_it_ran_of_the_students_code():
    exc = StudentError(["RuntimeError", "Exception"], "size mismatch", "", "tools.train_step(...)")
    assert classify(exc)[1].startswith("one training step (forward pass, cross-entropy loss, loss.backward(), "
                                       "optimizer.step()): your code raised RuntimeError: size mismatch")
    other = classify(StudentError(["RuntimeError"], "boom", "", "tools.some_new_helper(...)"))[1]
    assert other.startswith("a check that runs your code: your code raised") and "tools." not in other


def test_a_call_named_by_the_test_replaces_where_and_an_explicit_example_is_shown():
    exc = StudentError(["ValueError", "Exception"], "batch sizes differ", "", "ex5_training.train_one_epoch(...)")
    with pytest.raises(StudentError) as raised, called_as("train_one_epoch(...) on a loader of 5 samples in batches of 8"):
        raise exc
    raised.value.add_note("Falsifying explicit example: test_mean_loss(\n    student=<x>,\n    sizes=(5, 8),\n)")
    feedback = classify(raised.value)[1]
    assert feedback.startswith("train_one_epoch(...) on a loader of 5 samples in batches of 8: your code raised "
                               "ValueError: batch sizes differ"), feedback
    assert feedback.endswith("smallest failing input: sizes=(5, 8)"), feedback


def test_not_implemented_timeout_and_death():
    assert classify(StudentNotImplemented("x", "ex2_lenet.Net(...)"))[:2] == (
        Outcome.NOT_IMPLEMENTED, "not implemented yet: ex2_lenet.Net raises NotImplementedError")
    assert classify(WorkerTimeout("stopped: loop"))[:2] == (Outcome.TIMEOUT, "stopped: loop")
    assert classify(WorkerDied("exit 0"))[:2] == (Outcome.ERROR, "exit 0")


def test_errors_on_values_the_student_returned_are_failures():
    outcome, feedback, grader = classify(AttributeError("'tuple' object has no attribute 'shape'"))
    assert outcome is Outcome.FAILED and not grader and "could not use" in feedback


def test_other_exceptions_in_the_test_are_grader_errors_without_source():
    outcome, feedback, grader = classify(NameError("name 'helper' is not defined"))
    assert outcome is Outcome.ERROR and grader
    assert "not because of your code" in feedback and "Traceback" not in feedback


def test_an_exception_group_is_judged_by_its_first_failure():
    group = ExceptionGroup("2 distinct failures", [AssertionError("first"), ValueError("second")])
    assert classify(group)[:2] == (Outcome.FAILED, "first")
