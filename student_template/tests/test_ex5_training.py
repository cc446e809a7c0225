"""Public tests for exercise 5 (5 points). Run them with ``grade check ex5``.

These check that each function runs and returns the right kind of value. The hidden tests (20
points) check more: the exact crops, flips and normalisation of the transforms, the weights after
an epoch against the grader's own SGD steps (momentum, weight decay, batch norm), train and eval
modes, gradients, devices, the per-sample mean with a smaller last batch, the cosine formula
against PyTorch's scheduler, and the checkpoint file format; see ``assignments/ex5.md``.
"""

from __future__ import annotations

import io
import math

import pytest
import torch

from autograder.testing import call_keep

pytestmark = pytest.mark.exercise("ex5")


def _small_model(student):
    nn = student.torch.nn
    student.tools.seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def _data(n: int = 10):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 4, generator=g), torch.randint(0, 3, (n,), generator=g)


@pytest.mark.points(1)
def test_transforms_return_normalized_image_tensors(student):
    pixels = torch.randint(0, 256, (32, 32, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    img = student.tools.pil_image(pixels)
    for train in (False, True):
        out = student.ex5_training.cifar10_transforms(train)(img)
        what = f"cifar10_transforms({train}) on a 32x32 RGB PIL image"
        assert isinstance(out, torch.Tensor) and tuple(out.shape) == (3, 32, 32) and out.is_floating_point(), (
            f"{what} should return a float tensor of shape (3, 32, 32), got "
            f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}: end with "
            "ToTensor() and Normalize(CIFAR10_MEAN, CIFAR10_STD)")
        assert out.min() < 0, (
            f"{what} gave only values >= 0: after Normalize(CIFAR10_MEAN, CIFAR10_STD) the darker "
            "pixels are negative. Is Normalize missing?")


@pytest.mark.points(1)
def test_train_one_epoch_returns_loss_and_changes_weights(student):
    net = _small_model(student)
    before = [p.clone() for p in net.parameters()]
    x, y = _data(10)
    loader = student.tools.RecordingLoader(x, y, 4)
    optimizer = student.torch.optim.SGD(call_keep(net.parameters), lr=0.1)
    loss = student.ex5_training.train_one_epoch(net, loader, student.torch.nn.CrossEntropyLoss(), optimizer)
    assert isinstance(loss, float) and math.isfinite(loss) and loss > 0, (
        f"train_one_epoch returned {loss!r}, expected the mean loss per sample, a positive float "
        "(use loss.item() to get a float from a tensor)")
    after = list(net.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after)), (
        "after train_one_epoch the weights did not change: every batch needs optimizer.zero_grad(), "
        "loss.backward() and then optimizer.step()")


@pytest.mark.points(1)
def test_evaluate_returns_fraction_of_correct_predictions(student):
    net = _small_model(student)
    x, _ = _data(10)
    net.eval()
    predictions = net(x).argmax(dim=1)
    for labels, expected in ((predictions, 1.0), ((predictions + 1) % 3, 0.0)):
        loader = student.tools.RecordingLoader(x, labels, 4)
        accuracy = student.ex5_training.evaluate(net, loader)
        assert isinstance(accuracy, float) and accuracy == expected, (
            f"evaluate returned {accuracy!r} on labels where {int(expected * 10)} of 10 predictions are "
            f"right, expected {expected}: a fraction in [0, 1] (not a percentage), correct / total")


@pytest.mark.points(1)
def test_cosine_lr_endpoints(student):
    cosine_lr = student.ex5_training.cosine_lr
    for epoch, expected in ((0, 0.1), (5, 0.05), (10, 0.0)):
        value = cosine_lr(0.1, epoch, 10)
        assert isinstance(value, float) and abs(value - expected) < 1e-7, (  # float32 arithmetic is fine too
            f"cosine_lr(0.1, {epoch}, 10) returned {value!r}, expected {expected}: "
            "0.5 * base_lr * (1 + cos(pi * epoch / total_epochs))")


@pytest.mark.points(1)
def test_checkpoint_round_trip(student):
    net = _small_model(student)
    student.ex5_training.save_checkpoint(net, "public.pt")
    try:  # what load_checkpoint will read: a state_dict, which weights_only=True accepts
        saved = torch.load(io.BytesIO(student.tools.read_bytes("public.pt")), weights_only=True)
    except Exception as exc:
        raise AssertionError(
            f"save_checkpoint(model, path) wrote a file that torch.load(path, weights_only=True) refuses "
            f"({type(exc).__name__}): save model.state_dict(), a dict of tensors, with "
            "torch.save(model.state_dict(), path), not the model itself (do not switch to "
            "weights_only=False: that runs whatever code a file holds)") from None
    assert isinstance(saved, dict), (
        f"save_checkpoint(model, path) saved a {type(saved).__name__}, not the state_dict: "
        "torch.save(model.state_dict(), path)")
    student.tools.seed(1)
    nn = student.torch.nn
    fresh = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    loaded = student.ex5_training.load_checkpoint(fresh, "public.pt")
    x, _ = _data(5)
    assert torch.allclose(fresh(x), net(x)), (
        "save_checkpoint(model, path) then load_checkpoint(fresh_model, path): the fresh model does not "
        "compute what the saved one did. Save model.state_dict() and load it with "
        "model.load_state_dict(torch.load(path, weights_only=True))")
    assert student.tools.same(loaded, fresh), (
        "load_checkpoint must return the model it was given (end with `return model`: "
        "model.load_state_dict(...) returns the missing and unexpected keys, not the model)")
