"""Public tests for exercise 6 (5 points). Run them with ``grade check ex6``.

These check the size of the new heads and how many parameters train. The hidden tests (20 points)
check more: exactly which parameters are frozen (batch norms included), finetune="layer4", that a
training step leaves frozen parameters bit-identical and without gradient, and that the models are
torchvision's; see ``assignments/ex6.md``. Every model here is built with weights=None: nothing is
downloaded.
"""

from __future__ import annotations

import pytest
import torch

from autograder.testing import call_keep

pytestmark = pytest.mark.exercise("ex6")


@pytest.mark.points(2)
def test_resnet18_transfer_output_shape(student):
    model = student.ex6_transfer.resnet18_transfer(num_classes=10, weights=None)
    model.eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    out = model(x)
    assert isinstance(out, torch.Tensor), "the model must return a tensor of logits"
    assert tuple(out.shape) == (2, 10), (
        f"resnet18_transfer(num_classes=10, weights=None) on a batch of shape (2, 3, 32, 32) returned "
        f"shape {tuple(out.shape)}, expected (2, 10): the new head model.fc must be "
        "nn.Linear(512, num_classes)"
    )


@pytest.mark.points(1)
def test_resnet18_transfer_trainable_count(student):
    model = student.ex6_transfer.resnet18_transfer(num_classes=10, weights=None)
    total = sum(p.numel() for p in student.ex6_transfer.trainable_parameters(model))
    assert total == 512 * 10 + 10, (
        f"resnet18_transfer(num_classes=10, weights=None): trainable_parameters(model) holds {total:,} "
        "numbers, expected 5,130: only the head Linear(512, 10) trains (512*10 weights + 10 biases). "
        "More means something is not frozen (batch norms too?); 0 means the head is frozen "
        "(freeze first, then create the head)"
    )


@pytest.mark.points(1)
def test_trainable_parameters_count(student):
    model = student.ex6_transfer.resnet18_transfer(num_classes=10, weights=None)
    returned = call_keep(student.ex6_transfer.trainable_parameters, model)
    kind = student.tools.builtin_kind(returned)  # a subclass of list is a list too
    assert kind == "list", (
        f"trainable_parameters(model) returned a {kind}, expected a list: a generator or filter is empty "
        "the second time it is used (the optimizer would see no parameters): return [p for p in ...]")
    params = list(returned)
    names = [n or "?" for n in student.tools.names_of(model, returned)]
    assert len(params) == 2, (
        f"trainable_parameters(resnet18_transfer(num_classes=10, weights=None)) returned {len(params)} "
        f"tensors, expected 2: fc.weight and fc.bias"
        + (f" (it returned {', '.join(names[:6])}{', ...' if len(names) > 6 else ''})" if params else "")
    )


@pytest.mark.points(1)
def test_vgg16_transfer_head(student):
    model = student.ex6_transfer.vgg16_transfer(num_classes=10, weights=None)
    head = model.classifier[6]
    got = (head.in_features, head.out_features)
    assert got == (4096, 10), (
        f"vgg16_transfer(num_classes=10, weights=None): model.classifier[6] is Linear{got}, "
        "expected Linear(4096, 10)"
    )
