"""Exercise 4 -- OOP student: ConvBN blocks, a Projection class, a Stage Sequential subclass."""
import torch
from torch import nn

RESNET18_BLOCKS = [2, 2, 2, 2]
STAGE_CHANNELS = [64, 128, 256, 512]
STAGE_STRIDES = [1, 2, 2, 2]


class Projection(nn.Sequential):
    def __init__(self, in_channels, out_channels, stride):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
            nn.BatchNorm2d(out_channels),
        )


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        if self.needs_projection(in_channels, out_channels, stride):
            self.shortcut = Projection(in_channels, out_channels, stride)
        else:
            self.shortcut = nn.Sequential()

    @staticmethod
    def needs_projection(in_channels, out_channels, stride) -> bool:
        return not (stride == 1 and in_channels == out_channels)

    @property
    def has_projection(self) -> bool:
        return len(self.shortcut) > 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = self.shortcut(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Stage(nn.Sequential):
    def __init__(self, block, in_channels, out_channels, num_blocks, stride):
        blocks = [block(in_channels, out_channels, stride)]
        blocks += [block(out_channels * block.expansion, out_channels, 1) for _ in range(num_blocks - 1)]
        super().__init__(*blocks)


class ResNet(nn.Module):
    def __init__(self, block, num_blocks, num_classes=10):
        super().__init__()
        self._in_channels = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(block, STAGE_CHANNELS[0], num_blocks[0], STAGE_STRIDES[0])
        self.layer2 = self._make_layer(block, STAGE_CHANNELS[1], num_blocks[1], STAGE_STRIDES[1])
        self.layer3 = self._make_layer(block, STAGE_CHANNELS[2], num_blocks[2], STAGE_STRIDES[2])
        self.layer4 = self._make_layer(block, STAGE_CHANNELS[3], num_blocks[3], STAGE_STRIDES[3])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, out_channels, num_blocks, stride):
        stage = Stage(block, self._in_channels, out_channels, num_blocks, stride)
        self._in_channels = out_channels * block.expansion
        return stage

    def forward(self, x):
        for module in self.children():
            x = module(x)
        return x


def resnet18(num_classes: int = 10) -> nn.Module:
    return ResNet(BasicBlock, RESNET18_BLOCKS, num_classes)
