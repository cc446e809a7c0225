"""VGG11 and VGG16 with dropout, for 32x32 colour images (CIFAR-10).

Reference:
    K. Simonyan and A. Zisserman. "Very Deep Convolutional Networks for Large-Scale Image
    Recognition." ICLR 2015 (arXiv:1409.1556).

VGG is one idea repeated: stacks of 3x3 convolutions with padding 1 (they keep the spatial size;
two of them see 5x5, three see 7x7, with fewer weights and more non-linearities than one big
kernel), each followed by a ReLU, with a 2x2 max pool after each stack halving the size. The
networks differ only in how many convolutions each stack has, so the architecture is data: a
configuration list in which an integer ``v`` is a convolution with ``v`` output channels and
``"M"`` is a max pool (configurations "A" and "D" of the paper's Table 1).

The paper's networks take 224x224 images and end in three fully connected layers of 4096 units;
for 32x32 inputs the five pools leave a 1x1 map of 512 channels (32 -> 16 -> 8 -> 4 -> 2 -> 1),
so the classifier takes 512 features. VGG11 here has a single linear layer after dropout (the
common CIFAR variant); VGG16 keeps the paper's three fully connected layers with dropout after
the first two. ``batch_norm=True`` adds a BatchNorm2d after every convolution (Ioffe & Szegedy,
2015; torchvision's ``vgg11_bn``), which the paper predates. For a batch of shape (N, 3, 32, 32):

    features    (N, 512, 1, 1)
    flatten     (N, 512)
    classifier  (N, num_classes)   logits: no softmax, the loss applies it

VGG11 has 9,225,610 parameters for 10 classes (9,231,114 with batch norm), VGG16 33,638,218
(33,646,666 with batch norm).
"""

from __future__ import annotations

from typing import Sequence, Union

import torch
from torch import nn

__all__ = ["VGG_CONFIGS", "make_features", "VGG", "vgg11", "vgg16"]

#: Feature extractors as data: an integer is a 3x3 convolution (padding 1) with that many output
#: channels, followed by a ReLU; "M" is a 2x2 max pool with stride 2.
VGG_CONFIGS: dict[str, list[Union[int, str]]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def make_features(
    config: Sequence[Union[int, str]], in_channels: int = 3, batch_norm: bool = False
) -> nn.Sequential:
    """The convolutional part of a VGG network, built from a configuration list.

    Each integer ``v`` adds ``Conv2d(c, v, 3, padding=1)`` (``c`` is the previous layer's channel
    count, ``in_channels`` for the first), then ``BatchNorm2d(v)`` when ``batch_norm`` is set,
    then ``ReLU(inplace=True)``; each ``"M"`` adds ``MaxPool2d(2, 2)``. All in one flat
    ``nn.Sequential``, in this order.
    """
    # BEGIN SOLUTION
    layers: list[nn.Module] = []
    channels = in_channels
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers.append(nn.Conv2d(channels, v, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))
            channels = v
    return nn.Sequential(*layers)
    # END SOLUTION


class VGG(nn.Module):
    """A VGG network: ``features`` (convolutions), flatten, then ``classifier`` (logits).

    Args:
        features: the convolutional part, e.g. ``make_features(VGG_CONFIGS["vgg11"])``.
        classifier: the fully connected part; its input is the flattened output of ``features``.
    """

    def __init__(self, features: nn.Module, classifier: nn.Module) -> None:
        super().__init__()
        # BEGIN SOLUTION
        self.features = features
        self.classifier = classifier
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        x = self.features(x)
        x = torch.flatten(x, 1)
        x = self.classifier(x)
        return x
        # END SOLUTION


def vgg11(num_classes: int = 10, dropout: float = 0.5, batch_norm: bool = False) -> VGG:
    """VGG11 (configuration "A") for 32x32 inputs: dropout then one linear layer on 512 features."""
    # BEGIN SOLUTION
    features = make_features(VGG_CONFIGS["vgg11"], batch_norm=batch_norm)
    classifier = nn.Sequential(
        nn.Dropout(p=dropout),
        nn.Linear(512, num_classes),
    )
    return VGG(features, classifier)
    # END SOLUTION


def vgg16(num_classes: int = 10, dropout: float = 0.5, batch_norm: bool = False) -> VGG:
    """VGG16 (configuration "D") for 32x32 inputs, with the paper's three fully connected layers."""
    # BEGIN SOLUTION
    features = make_features(VGG_CONFIGS["vgg16"], batch_norm=batch_norm)
    classifier = nn.Sequential(
        nn.Linear(512, 4096),
        nn.ReLU(inplace=True),
        nn.Dropout(p=dropout),
        nn.Linear(4096, 4096),
        nn.ReLU(inplace=True),
        nn.Dropout(p=dropout),
        nn.Linear(4096, num_classes),
    )
    return VGG(features, classifier)
    # END SOLUTION
