"""Public tests for exercise 4 (5 points). Run them with ``grade check ex4``.

These check the shapes and the size of your block and network. The hidden tests (20 points) check
more: the shortcut rule, that your forward passes compute exactly the reference's function when
both get the same weights (in eval and in train mode), that a block with bn2's weight at zero
returns relu(shortcut(x)), and that the gradient flows through the shortcut; see
``assignments/ex4.md``.
"""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.exercise("ex4")


@pytest.mark.points(2)
def test_block_output_shapes(student):
    g = torch.Generator().manual_seed(0)
    for args, in_shape, expected, hint in (
        ((16, 16), (2, 16, 8, 8), (2, 16, 8, 8),
         "stride 1 and the same channels keep the shape: 3x3 convolutions with padding=1 and the "
         "identity shortcut"),
        ((16, 32, 2), (2, 16, 8, 8), (2, 32, 4, 4),
         "stride 2 halves the size and the channels go 16 -> 32: conv1 has stride 2, and the "
         "shortcut is a 1x1 convolution with stride 2 and 32 outputs, then batch norm"),
    ):
        block = student.ex4_resnet.BasicBlock(*args)
        block.eval()
        out = block(torch.randn(*in_shape, generator=g))
        assert isinstance(out, torch.Tensor), "BasicBlock.forward must return a tensor"
        call = "BasicBlock(" + ", ".join(map(str, args[:2])) + (f", stride={args[2]}" if len(args) > 2 else "") + ")"
        assert tuple(out.shape) == expected, (
            f"{call} on an input of shape {in_shape} returned shape {tuple(out.shape)}, expected "
            f"{expected}: {hint}"
        )


@pytest.mark.points(2)
def test_resnet18_output_shape(student):
    net = student.ex4_resnet.resnet18()
    net.eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    out = net(x)
    assert isinstance(out, torch.Tensor), "forward must return a tensor of logits"
    assert tuple(out.shape) == (2, 10), (
        f"resnet18() on a batch of shape (2, 3, 32, 32) returned shape {tuple(out.shape)}, "
        "expected (2, 10): one row of 10 class scores per image. Print x.shape after each step "
        "of forward and compare with the table in the docstring of ResNet: (2, 64, 32, 32) after "
        "the stem and layer1, (2, 128, 16, 16) after layer2, ..., (2, 512) after pooling and "
        "flattening"
    )


@pytest.mark.points(1)
def test_resnet18_parameter_count(student):
    net = student.ex4_resnet.resnet18()
    total = student.tools.param_count(net)
    assert total == 11_173_962, (
        f"resnet18() has {total:,} parameters, expected 11,173,962 (conv1 1,728 + bn1 128 + "
        "layer1 147,968 + layer2 525,568 + layer3 2,099,712 + layer4 8,393,728 + fc 5,130). "
        "Check that every stage has two blocks, that no convolution has a bias, that only the "
        "blocks that change the shape have a projection shortcut, and that fc takes 512 inputs"
    )
