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

from autograder.accuracy import VALIDATION_SIZE, data_shortfall, load_specs, train_and_score
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

    result = train_and_score(student, spec, data, device, seed=0, threads=os.cpu_count() or 1)

    losses = ", ".join(f"{x:.3f}" for x in result.epoch_losses)
    tolerance = 1.0 / VALIDATION_SIZE + 1e-6
    assert abs(result.validation_reported - result.validation_measured) <= tolerance, (
        f"your evaluate() reported {result.validation_reported:.4f} on held-out training images, but your "
        f"model's own predictions on them give {result.validation_measured:.4f}: evaluate must return the "
        f"fraction of correct top-1 predictions, in eval mode")
    reference = spec.evidence.get("mean") or 0.0
    assert result.accuracy >= spec.threshold, (
        f"{spec.model} trained with your train_one_epoch for {spec.epochs} epochs reached "
        f"{result.accuracy:.1%} test accuracy; at least {spec.threshold:.1%} is required"
        + (f" (the reference reaches {reference:.1%})" if reference else "")
        + f". Loss per epoch: {losses}. If the loss does not go down, check that train_one_epoch "
        "zeroes the gradients, calls backward() then step() on every batch, and that the model "
        "returns logits (no softmax before CrossEntropyLoss). If it does go down, check that the "
        "model initialises its weights the standard way: PyTorch's default, or Xavier/Kaiming "
        "(a tiny fixed scale such as N(0, 0.01) stalls a ReLU network).")
    record_property("feedback", (
        f"{spec.model} reached {result.accuracy:.1%} test accuracy after {spec.epochs} epochs "
        f"(at least {spec.threshold:.1%} required"
        + (f"; the reference reaches {reference:.1%}" if reference else "") + f"). Loss per epoch: {losses}."))
