"""Accuracy tests end to end: the hidden accuracy test on a small synthetic CIFAR-like data set
(fast), and, when CIFAR10_DIR is set (CI sets it), the cpu profile on real CIFAR-10."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import os
import re
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from autograder.accuracy import load_specs
from autograder.data import CLASSES
from autograder.manifest import load_manifest
from autograder.reporters import render_text
from autograder.results import Outcome, Report
from autograder.runner import grade

TINY_SPEC = """
[cpu_lenet]
profile = "cpu"
model = "lenet"
epochs = 6
batch_size = 16
max_lr = 0.02
crop_padding = 0
threshold = 0.8
train_images = 400        # the synthetic data set below, not CIFAR-10's 50,000 and 10,000
test_images = 100
"""


@pytest.fixture(scope="module")
def synthetic_cifar(tmp_path_factory):
    """Ten classes that a LeNet separates in a few epochs: one colour per class, plus noise."""
    root = tmp_path_factory.mktemp("synthetic")
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 256, (len(CLASSES), 3))
    for split, count in (("train", 40), ("test", 10)):
        for label, name in enumerate(CLASSES):
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                pixels = np.clip(colours[label] + rng.normal(0, 30, (32, 32, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{i:03d}.png")
    return root


@pytest.fixture
def accuracy_suite(tmp_path, repo):
    return make_suite(tmp_path, repo, TINY_SPEC)


def make_suite(tmp_path, repo, spec):
    suite = tmp_path / "suite"
    suite.mkdir()
    shutil.copyfile(repo / "grading_tests" / "test_ex5_accuracy.py", suite / "test_ex5_accuracy.py")
    (suite / "accuracy.toml").write_text(spec)
    (tmp_path / "assignment.toml").write_text(textwrap.dedent(f"""
        [assignment]
        name = "accuracy"
        [paths]
        solutions = "{repo}/solutions"
        hidden_tests = "{suite}"
        [exercises.ex2]
        module = "ex2_lenet.py"
        points = 1
        [exercises.ex5]
        module = "ex5_training.py"
        points = 10
    """))
    return load_manifest(tmp_path / "assignment.toml"), suite


def run(submission, accuracy_suite, tmp_path, data_dir):
    manifest, suite = accuracy_suite
    report = grade(submission, suite, manifest, ["ex5"], profile="cpu", data_dir=data_dir,
                   cache_dir=tmp_path / "cache")
    (test,) = report.tests
    return test


def test_the_reference_passes_the_accuracy_test(repo, accuracy_suite, tmp_path, synthetic_cifar):
    test = run(repo / "solutions", accuracy_suite, tmp_path, synthetic_cifar)
    assert test.outcome is Outcome.PASSED, test.feedback
    # A pass says by how much: the accuracy reached, the threshold, the losses.
    reached = re.search(r"reached (\d+\.\d)% test accuracy after 6 epochs \(at least 80\.0% required", test.feedback)
    assert reached and float(reached.group(1)) >= 80.0, test.feedback
    assert "Loss per epoch: " in test.feedback
    text = io.StringIO()
    render_text(Report(exercises=("ex5",), tests=(test,)), text, color=False)
    assert reached.group(0) in text.getvalue()


def test_a_loop_that_never_steps_fails_with_its_losses(repo, accuracy_suite, tmp_path, synthetic_cifar,
                                                        make_submission):
    source = (repo / "solutions" / "ex5_training.py").read_text()
    assert source.count("optimizer.step()") == 1
    sub = make_submission("nostep", {"ex5_training.py": source.replace("optimizer.step()", "pass")})
    test = run(sub, accuracy_suite, tmp_path, synthetic_cifar)
    assert test.outcome is Outcome.FAILED and "test accuracy" in test.feedback and "Loss per epoch" in test.feedback


def test_an_evaluate_that_disagrees_with_the_predictions_fails(repo, accuracy_suite, tmp_path, synthetic_cifar,
                                                               make_submission):
    source = (repo / "solutions" / "ex5_training.py").read_text()
    evaluate = source[source.index("def evaluate("):]
    ret = evaluate[evaluate.index("    return "):].splitlines()[0]
    sub = make_submission("percent", {"ex5_training.py": source.replace(ret, ret + " * 100", 1)})
    test = run(sub, accuracy_suite, tmp_path, synthetic_cifar)
    assert test.outcome is Outcome.FAILED and "your evaluate() reported" in test.feedback


def test_without_data_the_accuracy_test_is_not_graded(repo, accuracy_suite, tmp_path):
    test = run(repo / "solutions", accuracy_suite, tmp_path, None)
    assert test.outcome is Outcome.NOT_GRADED and "CIFAR10_DIR" in test.feedback and test.score == 0


def test_a_data_set_short_of_the_specs_is_not_graded(repo, tmp_path, synthetic_cifar):
    """The audit's case: --data-dir at a 500-image sample. The spec expects CIFAR-10's sizes (no
    train_images/test_images: the defaults), so nothing is trained and no student is failed."""
    spec = "\n".join(line for line in TINY_SPEC.splitlines() if not line.startswith(("train_images", "test_images")))
    test = run(repo / "solutions", make_suite(tmp_path, repo, spec), tmp_path, synthetic_cifar)
    assert test.outcome is Outcome.NOT_GRADED and test.score == 0, (test.outcome, test.feedback)
    assert (f"CIFAR-10 at {synthetic_cifar.resolve()} has 400 training and 100 test images, expected 50,000 and "
            "10,000: point --data-dir at the full data set") in test.feedback, test.feedback
    assert "Loss per epoch" not in test.feedback  # not trained at all


def test_a_data_set_without_a_class_is_not_graded(repo, accuracy_suite, tmp_path, synthetic_cifar):
    data = tmp_path / "no_trucks"
    shutil.copytree(synthetic_cifar, data)
    for path in (data / "test" / "truck").iterdir():
        path.unlink()
    test = run(repo / "solutions", accuracy_suite, tmp_path, data)
    assert test.outcome is Outcome.NOT_GRADED and test.score == 0, (test.outcome, test.feedback)
    assert (f"CIFAR-10 at {data.resolve()} has 400 training and 90 test images, expected 400 and 100; no test "
            "images of truck: point --data-dir at the full data set") in test.feedback, test.feedback


def test_the_shipped_specs_expect_the_full_cifar10(repo):

    specs = load_specs(repo / "grading_tests" / "accuracy.toml")
    assert specs and all((s.train_images, s.test_images) == (50_000, 10_000) for s in specs.values())


def test_a_spec_with_no_images_is_refused(tmp_path):

    (tmp_path / "accuracy.toml").write_text(TINY_SPEC.replace("train_images = 400", "train_images = 0"))
    with pytest.raises(ValueError, match=r"\[cpu_lenet\] train_images must be a positive number"):
        load_specs(tmp_path / "accuracy.toml")


@pytest.mark.skipif(not os.environ.get("CIFAR10_DIR"), reason="CIFAR10_DIR not set (real CIFAR-10 needed)")
def test_the_cpu_profile_passes_on_the_reference_with_real_cifar10(repo, manifest):
    report = grade(repo / "solutions", repo / "grading_tests", manifest, ["ex5"], profile="cpu",
                   data_dir=Path(os.environ["CIFAR10_DIR"]))
    accuracy = {t.name: t for t in report.tests if "accuracy" in t.name}
    cpu = accuracy["test_model_reaches_minimum_cifar10_accuracy[cpu_lenet]"]
    assert cpu.outcome is Outcome.PASSED, cpu.feedback
    assert all(t.outcome is Outcome.NOT_GRADED for n, t in accuracy.items() if "gpu" in n)
    assert not report.has_grader_error, report.grader_errors


LEARNING_BREAKERS = {
    "never_steps": ("ex5_training", None),  # optimizer.step() removed
    "no_zero_grad": ("ex5_training", "no_zero_grad"),
    "zero_grad_between_backward_and_step": ("ex5_training", "zero_grad_between_backward_and_step"),
    "softmax_output": ("ex2_lenet", "softmax_output"),
}


@pytest.mark.skipif(not os.environ.get("CIFAR10_DIR"), reason="CIFAR10_DIR not set (real CIFAR-10 needed)")
@pytest.mark.parametrize("breaker", sorted(LEARNING_BREAKERS))
def test_mutants_that_break_learning_fail_the_cpu_accuracy_test(repo, manifest, tmp_path, breaker):
    from autograder.mutants import load_mutants, materialize

    module, name = LEARNING_BREAKERS[breaker]
    folder = tmp_path / breaker
    if name is None:
        shutil.copytree(repo / "solutions", folder)
        path = folder / f"{module}.py"
        source = path.read_text()
        assert source.count("optimizer.step()") == 1
        path.write_text(source.replace("optimizer.step()", "pass"))
    else:
        (mutant,) = [m for m in load_mutants(manifest.mutants) if m.name == name]
        materialize(mutant, manifest.solutions, folder)
    report = grade(folder, repo / "grading_tests", manifest, ["ex5"], profile="cpu",
                   data_dir=Path(os.environ["CIFAR10_DIR"]))
    (cpu,) = [t for t in report.tests if t.name.endswith("[cpu_lenet]")]
    assert cpu.outcome is Outcome.FAILED, (cpu.outcome, cpu.feedback)


def test_the_public_accuracy_check_is_the_hidden_cpu_test(repo):
    """Students' `grade check ex5 --data-dir DIR` trains and judges exactly as the hidden cpu test."""
    path = repo / "student_template" / "tests" / "test_ex5_accuracy.py"
    spec = importlib.util.spec_from_file_location("public_accuracy", path)
    public = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(public)
    hidden = load_specs(repo / "grading_tests" / "accuracy.toml")["cpu_lenet"]
    assert public.CPU_LENET == dataclasses.replace(hidden, evidence={}), (
        "student_template/tests/test_ex5_accuracy.py's CPU_LENET must equal grading_tests/accuracy.toml's "
        "[cpu_lenet] (after a recalibration, copy the new values)")
    assert f"{hidden.threshold:.0%}" in (repo / "assignments" / "ex5.md").read_text()
