"""Minimum CIFAR-10 accuracy: the training procedure and its calibrated thresholds.

One procedure serves both sides: the hidden accuracy tests run it on the student's code through
the worker's proxies, and the calibration script runs it in-process on the reference solution, so
a threshold and the grade it decides come from the same pipeline. The worker trains on the
training set and predicts the test images; it never sees a test label: the trusted side scores.

Specs and thresholds live in ``grading_tests/accuracy.toml``, each threshold next to its evidence
(seeds, mean, spread, margin). ``benchmarks/calibrate_accuracy.py`` rewrites them in one command.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from autograder.data import TEST_IMAGES, TRAIN_IMAGES, shortfall

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["AccuracySpec", "Outcome", "load_specs", "MODELS", "data_shortfall", "train_and_score", "VALIDATION_SIZE",
           "check_accuracy"]

VALIDATION_SIZE = 2000  # held out of the training set (at most a tenth), for the student's evaluate()

#: How each model is built from a namespace of exercise modules (proxies or real modules).
MODELS: dict[str, Callable[[Any], Any]] = {
    "lenet": lambda ns: ns.ex2_lenet.Net(num_classes=10),
    "vgg11": lambda ns: ns.ex3_vgg.vgg11(num_classes=10, batch_norm=True),
    "vgg16": lambda ns: ns.ex3_vgg.vgg16(num_classes=10, batch_norm=True),
    "resnet18": lambda ns: ns.ex4_resnet.resnet18(num_classes=10),
    "resnet18_transfer": lambda ns: ns.ex6_transfer.resnet18_transfer(10, weights="IMAGENET1K_V1"),
}


@dataclass(frozen=True)
class AccuracySpec:
    name: str
    profile: str  # "cpu" or "gpu"
    model: str  # a key of MODELS
    epochs: int
    batch_size: int
    max_lr: float
    threshold: float  # minimum test accuracy, a fraction
    weight_decay: float = 5e-4
    crop_padding: int = 4
    flip: bool = True
    train_size: int = 0  # 0: the whole training set less the validation split
    provisional: bool = False
    # on CUDA, weights and batches channels-last (faster convolutions); False where a correct model
    # may flatten a feature map larger than 1x1 with .view, which refuses that layout (LeNet)
    channels_last: bool = True
    # the data set the threshold was calibrated on: with fewer images (or a class missing) the test
    # is not graded, never failed. CIFAR-10's sizes; a spec for a smaller data set sets its own.
    train_images: int = TRAIN_IMAGES
    test_images: int = TEST_IMAGES
    evidence: dict[str, Any] = field(default_factory=dict)


def load_specs(path: Path) -> dict[str, AccuracySpec]:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    specs = {}
    for name, table in data.items():
        table = dict(table)
        evidence = table.pop("evidence", {})
        try:
            specs[name] = AccuracySpec(name=name, evidence=evidence, **table)
        except TypeError as exc:
            raise ValueError(f"{path}: [{name}] {exc}") from None
        if specs[name].model not in MODELS:
            raise ValueError(f"{path}: [{name}] model must be one of {', '.join(MODELS)}")
        for key in ("train_images", "test_images"):
            value = getattr(specs[name], key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{path}: [{name}] {key} must be a positive number of images, not {value!r}")
    return specs


@dataclass(frozen=True)
class Outcome:
    accuracy: float  # on the test set, scored by the caller's side
    validation_measured: float  # on the held-out split, from the model's predictions
    validation_reported: float  # what the student's evaluate() returned on that split
    epoch_losses: tuple[float, ...]
    seconds: float


def data_shortfall(spec: AccuracySpec, data: Any) -> str | None:
    """Why ``data`` (an :class:`autograder.data.Cifar10`) is not the data set ``spec`` was
    calibrated on, or None: counted from the decoded labels, so nothing is decoded again."""
    return shortfall(data.counts, data.source.root, spec.train_images, spec.test_images)


def train_and_score(ns: Any, spec: AccuracySpec, data: Any, device: str, seed: int,
                    threads: int, on_epoch: Callable[[int, float], None] | None = None) -> Outcome:
    """Train ``spec.model`` built from ``ns`` with ``ns.ex5_training``'s loops on CIFAR-10 and score it.

    ``ns`` gives ``torch``, ``fastpath`` and the exercise modules, either as proxies into a worker
    or as real modules; ``data`` is an :class:`autograder.data.Cifar10` on the caller's side."""
    start = time.monotonic()
    ns.fastpath.use_threads(threads)
    ns.torch.manual_seed(seed)
    # A fixed random split: image-folder layouts are sorted by class, so "the last N" would be one class.
    n_val = min(VALIDATION_SIZE, len(data.train_images) // 10)
    order = torch.randperm(len(data.train_images), generator=torch.Generator().manual_seed(20_16))
    val_index, train_index = order[:n_val], order[n_val:]
    if spec.train_size:
        train_index = train_index[:spec.train_size]
    train_x, train_y = data.train_images[train_index], data.train_labels[train_index]
    val_x, val_y = data.train_images[val_index], data.train_labels[val_index]
    n_train = len(train_index)
    layout = torch.device(device).type == "cuda" and spec.channels_last

    model = ns.fastpath.prepare_model(MODELS[spec.model](ns), device, channels_last=layout)
    loader = ns.fastpath.TensorLoader(train_x, train_y, spec.batch_size, train=True, seed=seed, device=device,
                                      crop_padding=spec.crop_padding, flip=spec.flip, channels_last=layout)
    steps = spec.epochs * ((n_train + spec.batch_size - 1) // spec.batch_size)
    optimizer = ns.fastpath.OneCycleSGD(model.parameters(), spec.max_lr, steps, weight_decay=spec.weight_decay)
    criterion = ns.torch.nn.CrossEntropyLoss()
    losses = []
    for epoch in range(spec.epochs):
        losses.append(float(ns.ex5_training.train_one_epoch(model, loader, criterion, optimizer, device)))
        if on_epoch is not None:
            on_epoch(epoch, losses[-1])
    val_loader = ns.fastpath.TensorLoader(val_x, val_y, 500, device=device, channels_last=layout)
    reported = float(ns.ex5_training.evaluate(model, val_loader, device))
    val_pred = ns.fastpath.predict(model, val_x, device=device)
    test_pred = ns.fastpath.predict(model, data.test_images, device=device)
    measured = float((torch.as_tensor(val_pred) == val_y).float().mean())
    accuracy = float((torch.as_tensor(test_pred) == data.test_labels).float().mean())
    return Outcome(accuracy, measured, reported, tuple(losses), time.monotonic() - start)


def check_accuracy(ns: Any, spec: AccuracySpec, data: Any, device: str, threads: int) -> str:
    """What an accuracy test checks, for the hidden suite and the students' public one alike:
    :func:`train_and_score`, then ``AssertionError`` (feedback that teaches) when the student's
    ``evaluate`` disagrees with their model's own predictions or the test accuracy is below
    ``spec.threshold``. Returns the note a passing test leaves (accuracy, threshold, losses)."""
    result = train_and_score(ns, spec, data, device, seed=0, threads=threads)
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
    return (f"{spec.model} reached {result.accuracy:.1%} test accuracy after {spec.epochs} epochs "
            f"(at least {spec.threshold:.1%} required"
            + (f"; the reference reaches {reference:.1%}" if reference else "") + f"). Loss per epoch: {losses}.")
