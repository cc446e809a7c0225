"""The fast training path: batch augmentation, the tensor loader, the one-cycle optimizer."""

from __future__ import annotations

import itertools

import torch

from autograder.fastpath import CIFAR10_MEAN, CIFAR10_STD, OneCycleSGD, TensorLoader, augment, predict


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
