"""The fast training path: batch augmentation, the tensor loader, the one-cycle optimizer."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from types import SimpleNamespace

import pytest
import torch

from autograder.accuracy import MODELS, load_specs
from autograder.fastpath import (CIFAR10_MEAN, CIFAR10_STD, OneCycleSGD, TensorLoader, augment, predict,
                                 prepare_model)


def test_augment_crops_with_zero_padding_and_flips_each_image():
    images = torch.rand(64, 3, 32, 32)
    out = augment(images, torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(images, [4] * 4)
    flips, shifts = 0, set()
    for i in range(len(images)):
        matches = [(dy, dx, f) for dy, dx, f in itertools.product(range(9), range(9), (False, True))
                   if torch.equal(out[i], (padded[i, :, dy:dy + 32, dx:dx + 32].flip(2) if f
                                           else padded[i, :, dy:dy + 32, dx:dx + 32]))]
        assert matches, f"image {i} is not a padded crop (flipped or not) of its input"
        flips += matches[0][2]
        shifts.add(matches[0][:2])
    assert 10 < flips < 54 and len(shifts) > 20


def test_augment_can_be_flips_only():
    images = torch.rand(16, 3, 32, 32)
    out = augment(images, torch.Generator().manual_seed(1), crop_padding=0)
    assert all(torch.equal(o, i) or torch.equal(o, i.flip(2)) for o, i in zip(out, images))


def test_the_tensor_loader_looks_like_a_dataloader_and_normalizes():
    images = torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8)
    labels = torch.arange(10)
    loader = TensorLoader(images, labels, 4)
    batches = list(loader)
    assert len(loader) == 3 and len(loader.dataset) == 10 and [len(y) for _, y in batches] == [4, 4, 2]
    # what loops read off a DataLoader (train_loss / len(loader.sampler), the Udacity notebook's count)
    assert len(loader.sampler) == len(TensorLoader(images, labels, 4, train=True).sampler) == 10
    assert len(loader.batch_sampler) == 3 and loader.batch_size == 4 and loader.drop_last is False
    x, y = batches[0]
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(x, (images[:4].float() / 255 - mean) / std)
    assert torch.equal(y, labels[:4])


def test_training_batches_are_shuffled_per_epoch_and_reproducible():
    images = torch.randint(0, 256, (20, 3, 32, 32), dtype=torch.uint8)
    orders = []
    for _ in range(2):
        loader = TensorLoader(images, torch.arange(20), 20, train=True, seed=3)
        orders.append([next(iter(loader))[1].tolist() for _ in range(2)])
    assert orders[0] == orders[1] and orders[0][0] != orders[0][1]
    assert sorted(orders[0][0]) == list(range(20))


def test_one_cycle_sgd_follows_the_schedule_on_each_step():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = OneCycleSGD([param], max_lr=0.1, total_steps=10)
    lrs = []
    for _ in range(10):
        opt.zero_grad()
        param.sum().backward()
        opt.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert max(lrs) > 0.09 and lrs[-1] < 0.01 and lrs.index(max(lrs)) in (1, 2, 3)


def test_predict_is_in_eval_mode_and_returns_classes():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.9), torch.nn.Linear(3072, 5))
    images = torch.randint(0, 256, (7, 3, 32, 32), dtype=torch.uint8)
    first, second = predict(model, images, batch_size=3), predict(model, images, batch_size=7)
    assert first.shape == (7,) and torch.equal(first, second) and not model.training


def _style(repo, name: str) -> SimpleNamespace:
    """The exercise modules of one correct style in tests/styles, imported under private names."""
    ns = SimpleNamespace()
    for path in sorted((repo / "tests" / "styles" / name).glob("ex*.py")):
        spec = importlib.util.spec_from_file_location(f"_style_{name}_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # ex2 styles may import ex1 by its own name: keep lookups local
        spec.loader.exec_module(module)
        setattr(ns, path.stem, module)
    return ns


@pytest.mark.parametrize("style", ["compact", "tutorial"])  # both flatten LeNet's 16x8x8 map with .view
def test_every_accuracy_spec_uses_a_layout_that_view_flattening_models_accept(repo, style, monkeypatch):
    # On CUDA the accuracy runs may store weights and batches channels-last; the ex2 handout allows
    # x.view(x.size(0), -1), which refuses a channels-last map larger than 1x1. The same layout
    # applies on the CPU when asked for, so each spec's choice is checked here.
    monkeypatch.syspath_prepend(str(repo / "tests" / "styles" / style))
    ns = _style(repo, style)
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    for name, spec in load_specs(repo / "grading_tests" / "accuracy.toml").items():
        if spec.model == "resnet18_transfer":  # torchvision's own model (torch.flatten), and no weights here
            continue
        model = prepare_model(MODELS[spec.model](ns), "cpu", channels_last=spec.channels_last).eval()
        x, _ = next(iter(TensorLoader(images, None, 2, channels_last=spec.channels_last)))
        with torch.no_grad():
            assert model(x).shape == (2, 10), name
    lenet = prepare_model(ns.ex2_lenet.Net(), "cpu", channels_last=True)  # what the guard prevents
    x, _ = next(iter(TensorLoader(images, None, 2, channels_last=True)))
    with pytest.raises(RuntimeError, match="view"):
        lenet(x)
