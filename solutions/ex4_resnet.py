"""A residual block and a ResNet-18 for 32x32 colour images (CIFAR-10).

Reference:
    K. He, X. Zhang, S. Ren and J. Sun. "Deep residual learning for image recognition."
    CVPR 2016, pp. 770-778 (arXiv:1512.03385).

A residual block learns a correction F(x) to its input instead of a whole new mapping: its
output is relu(F(x) + shortcut(x)). The shortcut is the identity when the block keeps the shape
of its input, and a 1x1 convolution with batch norm (the paper's "option B" projection) when the
block changes the number of channels or, with stride 2, halves the spatial size. If the last
batch norm of F scales its output by zero, F(x) = 0 and the block reduces to relu(shortcut(x)):
a deep stack of blocks can always fall back to (nearly) the identity, which is why ResNets train
at depths where plain networks do not.

The network is the CIFAR variant of ResNet-18 used by most CIFAR codebases: torchvision's
ImageNet ResNet-18 with the stem (7x7 stride-2 convolution and 3x3 stride-2 max pool, which
would shrink a 32x32 image to 8x8 at once) replaced by one 3x3 stride-1 convolution. For a batch
of shape (N, 3, 32, 32):

    conv1 3x3 -> bn1 -> ReLU        (N, 64, 32, 32)
    layer1  2 blocks, stride 1      (N, 64, 32, 32)
    layer2  2 blocks, stride 2      (N, 128, 16, 16)
    layer3  2 blocks, stride 2      (N, 256, 8, 8)
    layer4  2 blocks, stride 2      (N, 512, 4, 4)
    adaptive average pool, flatten  (N, 512)
    fc                              (N, num_classes)   logits

11,173,962 trainable parameters for 10 classes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BasicBlock", "ResNet", "resnet18"]

#: Blocks per stage of ResNet-18 (ResNet-34 would be [3, 4, 6, 3]).
RESNET18_BLOCKS = [2, 2, 2, 2]
#: Output channels of the four stages.
STAGE_CHANNELS = [64, 128, 256, 512]
#: Stride of the first block of each stage (the other blocks of a stage have stride 1).
STAGE_STRIDES = [1, 2, 2, 2]


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a shortcut: relu(F(x) + shortcut(x))."""

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        # BEGIN SOLUTION
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False
        )
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(
            out_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=False
        )
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels * self.expansion:
            self.shortcut = nn.Sequential(
                nn.Conv2d(
                    in_channels, out_channels * self.expansion, kernel_size=1, stride=stride,
                    bias=False,
                ),
                nn.BatchNorm2d(out_channels * self.expansion),
            )
        else:
            self.shortcut = nn.Identity()
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + self.shortcut(x)
        return F.relu(out)
        # END SOLUTION


class ResNet(nn.Module):
    """A CIFAR ResNet: 3x3 stem, four stages of residual blocks, global average pool, fc."""

    def __init__(self, block: type[BasicBlock], num_blocks: list[int], num_classes: int = 10) -> None:
        super().__init__()
        # BEGIN SOLUTION
        self.in_channels = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.layer1 = self._make_layer(block, STAGE_CHANNELS[0], num_blocks[0], STAGE_STRIDES[0])
        self.layer2 = self._make_layer(block, STAGE_CHANNELS[1], num_blocks[1], STAGE_STRIDES[1])
        self.layer3 = self._make_layer(block, STAGE_CHANNELS[2], num_blocks[2], STAGE_STRIDES[2])
        self.layer4 = self._make_layer(block, STAGE_CHANNELS[3], num_blocks[3], STAGE_STRIDES[3])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(STAGE_CHANNELS[3] * block.expansion, num_classes)
        # END SOLUTION

    def _make_layer(
        self, block: type[BasicBlock], out_channels: int, num_blocks: int, stride: int
    ) -> nn.Sequential:
        """One stage: the first block has ``stride`` (and changes the channels), the rest stride 1."""
        # BEGIN SOLUTION
        strides = [stride] + [1] * (num_blocks - 1)
        blocks = []
        for s in strides:
            blocks.append(block(self.in_channels, out_channels, s))
            self.in_channels = out_channels * block.expansion
        return nn.Sequential(*blocks)
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        x = self.fc(x)
        return x
        # END SOLUTION


def resnet18(num_classes: int = 10) -> ResNet:
    """ResNet-18 for 32x32 images: 2 BasicBlocks per stage, 11,173,962 parameters for 10 classes."""
    # BEGIN SOLUTION
    return ResNet(BasicBlock, RESNET18_BLOCKS, num_classes=num_classes)
    # END SOLUTION
