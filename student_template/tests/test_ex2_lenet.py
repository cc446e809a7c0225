"""Public tests for exercise 2 (5 points). Run them with ``grade check ex2``.

These check the shapes and the size of your network. The hidden tests (20 points) check more:
that your forward pass computes exactly the reference's function when both networks get the same
weights, for several batch sizes and numbers of classes; see ``assignments/ex2.md``.
"""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.exercise("ex2")


@pytest.mark.points(3)
def test_net_output_shape_for_batch_of_four(student):
    net = student.ex2_lenet.Net(num_classes=10)
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    out = net(x)
    assert out is not None, "forward returned None: is the `return x` at its end missing?"
    assert isinstance(out, torch.Tensor), f"forward must return a tensor of logits, not a {type(out).__name__}"
    assert tuple(out.shape) == (4, 10), (
        f"Net(num_classes=10) on a batch of shape (4, 3, 32, 32) returned shape {tuple(out.shape)}, "
        "expected (4, 10): one row of 10 class scores per image. Print x.shape after each step of "
        "forward and compare with the table in the docstring of Net: (4, 6, 32, 32) after conv1, "
        "(4, 6, 16, 16) after the first pool, ..., (4, 1024) after flattening"
    )
    rows, spread = out.detach().sum(dim=1), out.detach().std(dim=1)
    varies = bool((spread > 1e-6).any())  # a zero-initialised head gives constant rows: no evidence either way
    assert not (varies and bool((out >= 0).all()) and torch.allclose(rows, torch.ones_like(rows), atol=1e-4)), (
        "Net's rows are probabilities (non-negative, each summing to 1): forward must return the logits of "
        "fc3, without softmax. nn.CrossEntropyLoss applies log-softmax itself, so a softmax in forward "
        "squashes the gradients and training stalls")


@pytest.mark.points(2)
def test_net_parameter_count(student):
    net = student.ex2_lenet.Net(num_classes=10)
    counts: dict[str, int] = {}
    for name, p in net.named_parameters():
        layer = name.rsplit(".", 1)[0]
        counts[layer] = counts.get(layer, 0) + p.numel()
    total = sum(counts.values())
    expected = {"conv1": 168, "conv2": 880, "fc1": 123_000, "fc2": 10_164, "fc3": 850}
    wrong = [f"{layer} has {counts.get(layer, 0):,}, expected {n:,}" for layer, n in expected.items()
             if counts.get(layer, 0) != n]
    assert total == 135_062, (
        f"Net(num_classes=10) has {total:,} parameters, expected 135,062 "
        "(conv1 168 + conv2 880 + fc1 123,000 + fc2 10,164 + fc3 850): "
        + ("; ".join(wrong) if wrong else "check each layer's sizes")
        + ". A layer's count is in_features * out_features + out_features (a convolution: in_channels * "
        "out_channels * 3 * 3 + out_channels); fc1 takes 16*8*8 = 1024 inputs after two 2x2 pools"
    )
