"""Public accuracy check for exercise 5 (0 points here: the hidden test of the same name gives 10).

Your LeNet (``ex2_lenet.Net``) is trained with your ``train_one_epoch`` on real CIFAR-10, exactly as
the hidden cpu-profile test trains it (same schedule, same threshold), and your ``evaluate`` is
compared with your model's own predictions. A few minutes on a laptop CPU:

    grade check ex5 --data-dir DIR        (or set CIFAR10_DIR; `grade data info` shows what is found)

Without the data set it is "not graded", never failed.
"""

from __future__ import annotations

import os

import pytest

from autograder.accuracy import AccuracySpec, check_accuracy, data_shortfall
from autograder.testing import not_graded

pytestmark = [pytest.mark.exercise("ex5"), pytest.mark.accuracy,
              pytest.mark.time_limit(call_seconds=900, test_seconds=3600)]

# The hidden test's cpu profile: 4 epochs of one-cycle SGD, flips only, at least 62% test accuracy.
CPU_LENET = AccuracySpec(name="cpu_lenet", profile="cpu", model="lenet", epochs=4, batch_size=128, max_lr=0.05,
                         threshold=0.62, crop_padding=0, channels_last=False)


@pytest.mark.points(0)
def test_lenet_reaches_the_cpu_accuracy_threshold(student, request, record_property):
    data = request.getfixturevalue("cifar10")  # not graded, with the reason, without the data set
    if reason := data_shortfall(CPU_LENET, data):
        not_graded(reason)
    record_property("feedback", check_accuracy(student, CPU_LENET, data, "cpu", threads=os.cpu_count() or 1))
