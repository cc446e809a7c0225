"""Exercise 4: a residual block and a ResNet-18 for CIFAR-10.

You will build the residual network of K. He, X. Zhang, S. Ren and J. Sun, "Deep residual
learning for image recognition" (CVPR 2016, arXiv:1512.03385), in the variant most CIFAR
codebases use: torchvision's ResNet-18 with the ImageNet stem (a 7x7 stride-2 convolution and a
stride-2 max-pool, which would shrink a 32x32 image to 8x8 at once) replaced by a single 3x3
stride-1 convolution.

A residual block computes relu(F(x) + shortcut(x)): the two convolutions F learn a correction to
the input instead of a whole new mapping. If F's last batch norm scales its output by zero, the
block reduces to relu(shortcut(x)), so a deep stack of blocks can always fall back to (nearly)
the identity, and the gradient reaches early layers through the shortcuts.

Fill in every place that says ``raise NotImplementedError``: ``BasicBlock.__init__``,
``BasicBlock.forward``, ``ResNet.__init__``, ``ResNet._make_layer``, ``ResNet.forward`` and
``resnet18``. Check your work with ``grade check ex4`` (public tests; the hidden tests check more,
see the handout ``assignments/ex4.md``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: F401  (you may use F.relu, F.adaptive_avg_pool2d, ...)
from torch import nn

__all__ = ["BasicBlock", "ResNet", "resnet18"]

#: Blocks per stage of ResNet-18 (ResNet-34 would be [3, 4, 6, 3]).
RESNET18_BLOCKS = [2, 2, 2, 2]
#: Output channels of the four stages.
STAGE_CHANNELS = [64, 128, 256, 512]
#: Stride of the first block of each stage (the other blocks of a stage have stride 1).
STAGE_STRIDES = [1, 2, 2, 2]


class BasicBlock(nn.Module):
    """The residual block of ResNet-18/34: relu(F(x) + shortcut(x)).

    For an input x of shape (N, in_channels, H, W) and H' = (H - 1) // stride + 1 (H / stride for
    even H), likewise W':

        step                                                         output shape
        -----------------------------------------------------------  ----------------------------
        conv1 = Conv2d(in_channels, out_channels, 3, stride=stride,
                       padding=1, bias=False)                        (N, out_channels, H', W')
        bn1 = BatchNorm2d(out_channels), then ReLU                   (N, out_channels, H', W')
        conv2 = Conv2d(out_channels, out_channels, 3, stride=1,
                       padding=1, bias=False)                        (N, out_channels, H', W')
        bn2 = BatchNorm2d(out_channels)          (no ReLU here!)     (N, out_channels, H', W')
        + shortcut(x)                                                (N, out_channels, H', W')
        ReLU                                                         (N, out_channels, H', W')

    The shortcut must give the same shape as the residual branch, so that the two can be added:

    - stride == 1 and in_channels == out_channels: the identity, shortcut(x) = x, with no
      parameters. Write it as ``nn.Identity()``, an empty ``nn.Sequential()``, or add x itself
      in forward: all three are fine.
    - otherwise (the block halves the size, or changes the number of channels): a projection,
      ``self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=1,
      stride=stride, bias=False), nn.BatchNorm2d(out_channels))``.

    Rules the grader checks:

    - The attributes are named exactly ``conv1``, ``bn1``, ``conv2``, ``bn2`` and ``shortcut``
      (the projection an ``nn.Sequential`` of the 1x1 convolution then the batch norm, so its
      ``state_dict`` keys are ``shortcut.0.weight``, ``shortcut.1.weight``, ...). The grader
      copies weights between your block and the reference by ``state_dict`` key.
    - No convolution has a bias (``bias=False``): batch norm follows each one, and its shift
      replaces the bias.
    - The stride is on conv1 (and on the projection), never on conv2.
    - The ReLU at the end comes after the addition. With bn2's weight set to zero (and its
      bias at its default 0) the residual branch is zero and the block returns relu(shortcut(x)).
    - The gradient reaches x through the shortcut: do not detach x.
    - The block is compared with the reference in eval mode (batch norm uses its running
      statistics) and in train mode (batch norm uses the batch's statistics).
    """

    expansion = 1  # out_channels * expansion channels leave the block (4 in a Bottleneck block)

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        """Create the layers.

        Args:
            in_channels: channels of the input x.
            out_channels: channels of the output (and of both convolutions).
            stride: stride of conv1 and of the projection shortcut: 1 keeps the size, 2 halves it.
        """
        super().__init__()
        # TODO: define self.conv1, self.bn1, self.conv2, self.bn2 and self.shortcut (see the table
        #       and the shortcut rule in the class docstring).
        # Hints:
        #   - nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=..., padding=1, bias=False)
        #     and nn.BatchNorm2d(num_features).
        #   - The projection is needed when `stride != 1 or in_channels != out_channels`: a change
        #     of channels alone (stride 1) needs it too, and so does any stride other than 1.
        #   - Use the expansion attribute (self.expansion) if you like: it is 1 here.
        raise NotImplementedError("BasicBlock.__init__")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block.

        Args:
            x: a float tensor of shape (N, in_channels, H, W).

        Returns:
            a tensor of shape (N, out_channels, H', W'): relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).
        """
        # TODO: out = relu(bn1(conv1(x))); out = bn2(conv2(out)); out = out + shortcut(x);
        #       return relu(out).
        # Hints:
        #   - Keep the input x around: the shortcut is applied to the block's *input*, not to the
        #     output of conv1.
        #   - Only two ReLUs: one after bn1, one after the addition. A ReLU after bn2 (before the
        #     addition) is a common mistake: the residual branch could then only add, never subtract.
        raise NotImplementedError("BasicBlock.forward")


class ResNet(nn.Module):
    """A ResNet for 32x32 images: 3x3 stem, four stages of residual blocks, average pool, fc.

    For a batch of shape (N, 3, 32, 32) and ``ResNet(BasicBlock, [2, 2, 2, 2], num_classes)``
    (that is ResNet-18):

        step                                                          output shape
        ------------------------------------------------------------  -------------------
        conv1 = Conv2d(3, 64, 3, stride=1, padding=1, bias=False)     (N, 64, 32, 32)
        bn1 = BatchNorm2d(64), then ReLU        (no max-pool!)        (N, 64, 32, 32)
        layer1: 2 blocks, 64 channels, first block stride 1           (N, 64, 32, 32)
        layer2: 2 blocks, 128 channels, first block stride 2          (N, 128, 16, 16)
        layer3: 2 blocks, 256 channels, first block stride 2          (N, 256, 8, 8)
        layer4: 2 blocks, 512 channels, first block stride 2          (N, 512, 4, 4)
        avgpool = AdaptiveAvgPool2d((1, 1))                           (N, 512, 1, 1)
        flatten (keep the batch dimension)                            (N, 512)
        fc = Linear(512, num_classes)                                 (N, num_classes)  logits

    Each stage is an ``nn.Sequential`` of blocks: its first block has the stage's stride and
    changes the channels (so it has a projection shortcut, except in layer1 where 64 -> 64 with
    stride 1 needs none); every other block has stride 1 and keeps the channels.

    With num_classes=10, ResNet-18 has 11,173,962 trainable parameters:

        conv1 1,728   bn1 128   layer1 147,968   layer2 525,568   layer3 2,099,712
        layer4 8,393,728   fc 5,130

    Rules the grader checks: the attributes are named ``conv1``, ``bn1``, ``layer1`` ...
    ``layer4`` and ``fc``, so the ``state_dict`` keys are ``conv1.weight``, ``bn1.running_mean``,
    ``layer2.0.shortcut.0.weight``, ``layer4.1.bn2.bias``, ``fc.weight``, ... exactly like the
    reference's; ``forward`` returns the logits (no softmax).
    """

    def __init__(self, block: type[BasicBlock], num_blocks: list[int], num_classes: int = 10) -> None:
        """Create the stem, the four stages and the head.

        Args:
            block: the block class, BasicBlock.
            num_blocks: blocks per stage, [2, 2, 2, 2] for ResNet-18.
            num_classes: size of fc's output (10 for CIFAR-10).
        """
        super().__init__()
        # TODO: self.conv1, self.bn1 (the stem), self.layer1 ... self.layer4 (with _make_layer,
        #       STAGE_CHANNELS and STAGE_STRIDES), self.avgpool and self.fc.
        # Hints:
        #   - Keep the number of channels entering the next block in an attribute, e.g.
        #     self.in_channels = 64 after the stem; _make_layer reads and updates it.
        #   - fc takes 512 * block.expansion inputs.
        raise NotImplementedError("ResNet.__init__")

    def _make_layer(
        self, block: type[BasicBlock], out_channels: int, num_blocks: int, stride: int
    ) -> nn.Sequential:
        """One stage: ``num_blocks`` blocks in an ``nn.Sequential``.

        Args:
            block: the block class.
            out_channels: channels of every block of the stage.
            num_blocks: how many blocks.
            stride: stride of the first block; the others have stride 1.

        Returns:
            nn.Sequential(block(self.in_channels, out_channels, stride),
                          block(out_channels * block.expansion, out_channels, 1), ...)
        """
        # TODO: build the list of strides [stride, 1, 1, ...], create one block per stride, and
        #       update self.in_channels after each block (to out_channels * block.expansion).
        # Hints:
        #   - Forgetting to update self.in_channels makes the second block of layer2 expect 64
        #     input channels while it gets 128.
        #   - The stride goes on the FIRST block of the stage: the downsampling happens once, on
        #     entry, and the remaining blocks work at the new size.
        raise NotImplementedError("ResNet._make_layer")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Compute class scores for a batch of images.

        Args:
            x: images, a float tensor of shape (N, 3, 32, 32).

        Returns:
            logits: a tensor of shape (N, num_classes).
        """
        # TODO: relu(bn1(conv1(x))) -> layer1 -> layer2 -> layer3 -> layer4 -> avgpool -> flatten
        #       -> fc, and return fc's output as it is.
        # Hints:
        #   - No max-pool after the stem: that is the ImageNet ResNet's, for 224x224 images.
        #   - Flatten with torch.flatten(x, 1) or x.view(x.size(0), -1).
        #   - Print x.shape after each step and compare with the table in the class docstring.
        raise NotImplementedError("ResNet.forward")


def resnet18(num_classes: int = 10) -> ResNet:
    """ResNet-18 for 32x32 images: two BasicBlocks per stage, 11,173,962 parameters for 10 classes.

    Args:
        num_classes: number of output classes.

    Returns:
        the network, an nn.Module taking (N, 3, 32, 32) images and returning (N, num_classes) logits.
    """
    # TODO: one line: a ResNet of BasicBlocks with RESNET18_BLOCKS blocks per stage, passing
    #       num_classes on.
    raise NotImplementedError("resnet18")
