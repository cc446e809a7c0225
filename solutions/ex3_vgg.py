"""Exercise 3: VGG11 and VGG16 with dropout, for 32x32 images.

You will build the VGG networks of K. Simonyan and A. Zisserman, "Very Deep Convolutional
Networks for Large-Scale Image Recognition" (ICLR 2015), adapted to the 32x32 images of CIFAR-10.
VGG is one idea repeated: stacks of 3x3 convolutions with padding 1, each followed by a ReLU,
with a 2x2 max pool after each stack. The networks differ only in how many convolutions each
stack has, so the architecture is *data*: ``VGG_CONFIGS`` below (given, complete).

Fill in, in this order (each step uses the previous one):

1. ``make_features``: turn a configuration list into an ``nn.Sequential`` of layers;
2. ``VGG``: a module holding ``features`` and ``classifier``, with forward = features ->
   flatten -> classifier;
3. ``vgg11`` and ``vgg16``: build the two networks from the pieces above.

Every place that says ``raise NotImplementedError`` is yours. Check your work with
``grade check ex3`` (public tests; the hidden tests check more, see ``assignments/ex3.md``).
"""

# BEGIN SOLUTION NO PROMPT
# Reference solution (instructor only). `grade assign` writes the student's stub from this file:
# every "BEGIN SOLUTION" block becomes `raise NotImplementedError`, and blocks like this one go.
# END SOLUTION

from __future__ import annotations

from typing import Sequence, Union

import torch
from torch import nn

__all__ = ["VGG_CONFIGS", "make_features", "VGG", "vgg11", "vgg16"]

#: GIVEN, do not change. An integer v is a 3x3 convolution (padding 1) with v output channels,
#: followed by a ReLU; "M" is a 2x2 max pool with stride 2. Configurations "A" (11 weight layers:
#: 8 convolutions + 3 fully connected in the paper) and "D" (16: 13 + 3) of the paper's Table 1.
VGG_CONFIGS: dict[str, list[Union[int, str]]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def make_features(
    config: Sequence[Union[int, str]], in_channels: int = 3, batch_norm: bool = False
) -> nn.Sequential:
    """Build the convolutional part of a VGG network from a configuration list.

    Args:
        config: a list of integers and "M", e.g. ``VGG_CONFIGS["vgg11"]`` or any other list such
            as ``[8, "M", 16, 16, "M"]`` (the grader also uses small ones).
        in_channels: channels of the input images (3 for RGB; 1 for grey-scale images).
        batch_norm: if True, put a BatchNorm2d after every convolution.

    Returns:
        ONE flat ``nn.Sequential`` holding, for each entry of ``config`` in order:

        - an integer ``v``:  ``nn.Conv2d(c, v, kernel_size=3, padding=1)``  where ``c`` is the
          number of channels coming in (``in_channels`` for the first convolution, else the ``v``
          of the previous convolution), then ``nn.BatchNorm2d(v)`` only if ``batch_norm``, then
          ``nn.ReLU(inplace=True)``;
        - ``"M"``:  ``nn.MaxPool2d(kernel_size=2, stride=2)``.

        Example: ``make_features([8, "M", 16], in_channels=3, batch_norm=True)`` is

            Sequential(
              (0): Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
              (1): BatchNorm2d(8, ...)
              (2): ReLU(inplace=True)
              (3): MaxPool2d(kernel_size=2, stride=2, ...)
              (4): Conv2d(8, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
              (5): BatchNorm2d(16, ...)
              (6): ReLU(inplace=True)
            )

        Shapes: a convolution keeps the height and width, (H + 2*1 - 3) / 1 + 1 = H, and changes
        the channels to v; a pool halves height and width. For (N, 3, 32, 32) images,
        ``make_features(VGG_CONFIGS["vgg11"])`` gives (N, 512, 1, 1): five pools, 32 -> 1.

    Rules the grader checks:
        - Exactly these layers, in this order, directly inside the returned ``nn.Sequential``
          (not nested in inner Sequentials, no extra layers such as Dropout or Flatten). The
          grader copies weights by ``state_dict`` key, and the keys carry the layer positions:
          ``"0.weight"`` is the first convolution, and with batch_norm ``"1.running_mean"`` is
          the first batch norm.
        - Each convolution keeps its bias (the default), also with batch norm.
        - ``nn.ReLU(inplace=True)`` or ``nn.ReLU()``: both are accepted.
    """
    # TODO: loop over config, append layers to a Python list, return nn.Sequential(*layers).
    # Hints:
    #   - Keep a variable with the current number of channels: it starts at in_channels and
    #     becomes v after each convolution. Do not hard-code 3.
    #   - Test `v == "M"` first; any other entry is an integer number of channels.
    #   - nn.Sequential(*layers) unpacks the list; nn.Sequential(layers) fails.
    #   - The order with batch norm is conv -> batch norm -> ReLU (normalise, then activate).
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
    """A VGG network: the convolutional ``features``, flatten, then the ``classifier``.

    ``VGG`` does not build any layers itself: ``vgg11`` and ``vgg16`` below build the two parts
    and hand them to it, so the same class serves every depth.

    Args:
        features: any module taking (N, C, H, W) images, e.g. ``make_features(...)``.
        classifier: any module taking the flattened features, (N, C' * H' * W').

    The two arguments must be stored as the attributes ``self.features`` and
    ``self.classifier`` (the ``state_dict`` keys then start with ``"features."`` and
    ``"classifier."``, which the grader relies on).

    forward(x), for 32x32 images and the features of VGG11 or VGG16:

        x                         (N, 3, 32, 32)
        self.features(x)          (N, 512, 1, 1)
        flatten (keep dim 0)      (N, 512)
        self.classifier(.)        (N, num_classes)   <- logits, returned as they are

    The grader also calls ``VGG`` with small modules of its own whose features are not 1x1
    (e.g. (N, 4, 2, 2) -> 16 features): flatten every dimension but the batch, in PyTorch's
    (channels, height, width) order; do not pool or average instead of flattening.
    """

    def __init__(self, features: nn.Module, classifier: nn.Module) -> None:
        super().__init__()
        # TODO: store the two modules as self.features and self.classifier (two lines).
        # BEGIN SOLUTION
        self.features = features
        self.classifier = classifier
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x of shape (N, C, H, W). Returns: the classifier's output, (N, num_classes)."""
        # TODO: features -> flatten -> classifier, and return the classifier's output as it is.
        # Hints:
        #   - torch.flatten(x, 1) or x.view(x.size(0), -1). Not x.squeeze() (a batch of one image
        #     loses its batch dimension) and not x.view(-1, 512) (other feature sizes exist).
        #   - No softmax: nn.CrossEntropyLoss applies log-softmax itself.
        # BEGIN SOLUTION
        x = self.features(x)
        x = torch.flatten(x, 1)
        x = self.classifier(x)
        return x
        # END SOLUTION


def vgg11(num_classes: int = 10, dropout: float = 0.5, batch_norm: bool = False) -> VGG:
    """VGG11 for 32x32 images.

    Args:
        num_classes: number of classes, the size of the output (10 for CIFAR-10).
        dropout: the dropout probability p, the chance that each of the 512 features is zeroed
            during training (the rest are scaled by 1 / (1 - p)). Use this argument; do not
            hard-code 0.5.
        batch_norm: passed on to make_features.

    Returns:
        ``VGG(features, classifier)`` with

        - features = ``make_features(VGG_CONFIGS["vgg11"], batch_norm=batch_norm)``
        - classifier = ``nn.Sequential(nn.Dropout(dropout), nn.Linear(512, num_classes))``:
          dropout FIRST, then ONE linear layer. Its state_dict keys are therefore
          ``"classifier.1.weight"`` and ``"classifier.1.bias"`` (the Dropout at index 0 has none).

    Parameters: 9,225,610 for 10 classes without batch norm (the convolutions 9,220,480, the
    linear layer 512*10 + 10 = 5,130); batch norm adds 2 per channel (weight and bias): 9,231,114.

    Dropout is what makes train and eval mode differ: after ``model.train()`` two calls on the
    same input give different outputs; after ``model.eval()`` the output is deterministic.
    ``nn.Dropout`` does both for you, following ``self.training``.
    """
    # TODO: build features and classifier as described above and return VGG(features, classifier).
    # BEGIN SOLUTION
    features = make_features(VGG_CONFIGS["vgg11"], batch_norm=batch_norm)
    classifier = nn.Sequential(
        nn.Dropout(p=dropout),
        nn.Linear(512, num_classes),
    )
    return VGG(features, classifier)
    # END SOLUTION


def vgg16(num_classes: int = 10, dropout: float = 0.5, batch_norm: bool = False) -> VGG:
    """VGG16 for 32x32 images, with the paper's three fully connected layers.

    Args: as for ``vgg11``.

    Returns:
        ``VGG(features, classifier)`` with

        - features = ``make_features(VGG_CONFIGS["vgg16"], batch_norm=batch_norm)``
        - classifier = ``nn.Sequential`` of exactly these seven layers, in this order:

              index  layer                         output shape
              0      nn.Linear(512, 4096)          (N, 4096)
              1      nn.ReLU(inplace=True)         (N, 4096)
              2      nn.Dropout(dropout)           (N, 4096)
              3      nn.Linear(4096, 4096)         (N, 4096)
              4      nn.ReLU(inplace=True)         (N, 4096)
              5      nn.Dropout(dropout)           (N, 4096)
              6      nn.Linear(4096, num_classes)  (N, num_classes)

          so its state_dict keys are classifier.0.*, classifier.3.* and classifier.6.*.

    Parameters: 33,638,218 for 10 classes without batch norm (convolutions 14,714,688; linear
    layers 2,101,248 + 16,781,312 + 40,970); 33,646,666 with batch norm.

    Both Dropout layers use the same p = dropout.
    """
    # TODO: as in vgg11, with the seven-layer classifier above.
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
