"""Hidden accuracy tests: the student's own models and loops, trained on real CIFAR-10.

The worker trains the student's model with the student's ``train_one_epoch`` (and checks its own
``evaluate``) on the training set; it predicts the test images without ever seeing a test label,
and the accuracy is scored here. Without data, with data short of the full data set (fewer images
than the spec's ``train_images``/``test_images``, CIFAR-10's 50,000 and 10,000 unless it says
otherwise, or a class missing), without the profile's device, or without pretrained weights a test
is *not graded*, with the reason: never passed, never a silent zero, never the student's fault.
Thresholds and their evidence: ``accuracy.toml`` next to this file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from autograder.accuracy import check_accuracy, data_shortfall, load_specs
from autograder.testing import not_graded

pytestmark = [pytest.mark.exercise("ex5"), pytest.mark.accuracy,
              pytest.mark.time_limit(call_seconds=900, test_seconds=3600)]

SPECS = load_specs(Path(__file__).with_name("accuracy.toml"))
POINTS = {"cpu_lenet": 10, "gpu_lenet": 2, "gpu_vgg11": 2, "gpu_vgg16": 2, "gpu_resnet18": 2,
          "gpu_resnet18_transfer": 2}


def _imagenet_weights_available() -> str | None:
    """None when torchvision's ResNet-18 ImageNet weights are in the local cache, else why not."""
    from torchvision.models import ResNet18_Weights

    url = ResNet18_Weights.IMAGENET1K_V1.url
    path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)
    return None if path.is_file() else f"ImageNet weights for ResNet-18 are not in {path.parent} (no download here)"


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.points(POINTS[n]), id=n) for n in SPECS])
def test_model_reaches_minimum_cifar10_accuracy(student, accuracy_profile, request, record_property, name):
    spec = SPECS[name]
    if spec.profile != accuracy_profile:
        not_graded(f"runs in the {spec.profile} profile; this run used the {accuracy_profile} profile "
                   f"(grade check --profile {spec.profile})")
    if spec.profile == "gpu" and not torch.cuda.is_available():
        not_graded("needs a CUDA GPU; none is available here")
    if spec.model == "resnet18_transfer" and (reason := _imagenet_weights_available()):
        not_graded(reason)
    data = request.getfixturevalue("cifar10")
    if reason := data_shortfall(spec, data):  # a wrong --data-dir: the TA's to fix, not the student's
        not_graded(reason)
    device = "cuda" if spec.profile == "gpu" else "cpu"

    record_property("feedback", check_accuracy(student, spec, data, device, threads=os.cpu_count() or 1))
