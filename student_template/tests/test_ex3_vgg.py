"""Public tests for exercise 3 (5 points). Run them with ``grade check ex3``.

These check shapes and sizes only. The hidden tests (20 points) check more: the exact order of
the layers, batch norm, in_channels, that your networks compute exactly the reference's function
when both get the same weights, and that dropout is active in train mode, off in eval mode, with
the rate you asked for; see ``assignments/ex3.md``.
"""

from __future__ import annotations

import pytest
import torch

from autograder.testing import call_keep

pytestmark = pytest.mark.exercise("ex3")

VGG11_CONFIG = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]


def _images(batch_size: int) -> torch.Tensor:
    return torch.randn(batch_size, 3, 32, 32, generator=torch.Generator().manual_seed(0))


@pytest.mark.points(1)
def test_make_features_vgg11_output_shape(student):
    features = call_keep(student.ex3_vgg.make_features, VGG11_CONFIG)
    kind = student.tools.nn_class(features)
    assert kind == "Sequential", (
        f"make_features(VGG_CONFIGS['vgg11']) returned a {kind}, expected an nn.Sequential: collect the layers "
        "in a Python list, then return nn.Sequential(*layers) (the * unpacks the list)")
    out = features(_images(2))
    assert isinstance(out, torch.Tensor), "make_features must return an nn.Sequential of layers"
    assert tuple(out.shape) == (2, 512, 1, 1), (
        f'make_features(VGG_CONFIGS["vgg11"]) on a (2, 3, 32, 32) batch returned shape '
        f"{tuple(out.shape)}, expected (2, 512, 1, 1): each 3x3 convolution with padding 1 keeps "
        "the size, each of the five 2x2 pools halves it (32 -> 16 -> 8 -> 4 -> 2 -> 1), and the "
        "last convolution has 512 channels"
    )


@pytest.mark.points(2)
def test_vgg11_output_shape(student):
    net = student.ex3_vgg.vgg11(num_classes=10)
    net.eval()
    out = net(_images(2))
    assert isinstance(out, torch.Tensor), "forward must return a tensor of logits"
    assert tuple(out.shape) == (2, 10), (
        f"vgg11(num_classes=10) on a (2, 3, 32, 32) batch returned shape {tuple(out.shape)}, "
        "expected (2, 10): features give (2, 512, 1, 1), flattening gives (2, 512), and the "
        "classifier Dropout -> Linear(512, num_classes) gives (2, 10)"
    )


@pytest.mark.points(1)
def test_vgg11_parameter_count(student):
    total = student.tools.param_count(student.ex3_vgg.vgg11(num_classes=10))
    assert total == 9_225_610, (
        f"vgg11(num_classes=10) has {total:,} parameters, expected 9,225,610 (the eight "
        "convolutions 9,220,480, the linear layer 512*10 + 10 = 5,130). Check the configuration "
        "you pass to make_features, the 3x3 kernels, and that the classifier is one Linear(512, 10)"
    )


@pytest.mark.points(1)
def test_vgg16_parameter_count(student):
    total = student.tools.param_count(student.ex3_vgg.vgg16(num_classes=10))
    assert total == 33_638_218, (
        f"vgg16(num_classes=10) has {total:,} parameters, expected 33,638,218 (the thirteen "
        "convolutions 14,714,688; Linear(512, 4096) 2,101,248; Linear(4096, 4096) 16,781,312; "
        'Linear(4096, 10) 40,970). Check that vgg16 uses VGG_CONFIGS["vgg16"] and the three '
        "linear layers"
    )
