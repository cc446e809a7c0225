import torch
import torch.nn.functional as F
from torch import nn

RESNET18_BLOCKS = [2, 2, 2, 2]
STAGE_CHANNELS = [64, 128, 256, 512]
STAGE_STRIDES = [1, 2, 2, 2]


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.shortcut.append(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False))
            self.shortcut.append(nn.BatchNorm2d(out_channels))

    def forward(self, x):
        identity = self.shortcut(x)
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        out += identity
        out = self.relu(out)
        return out


def _stage(block, in_channels, out_channels, n, stride):
    blocks = [block(in_channels, out_channels, stride)]
    for _ in range(n - 1):
        blocks.append(block(out_channels * block.expansion, out_channels, 1))
    return nn.Sequential(*blocks)


class ResNet(nn.Module):
    def __init__(self, block, num_blocks, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = _stage(block, 64, 64, num_blocks[0], 1)
        self.layer2 = _stage(block, 64, 128, num_blocks[1], 2)
        self.layer3 = _stage(block, 128, 256, num_blocks[2], 2)
        self.layer4 = _stage(block, 256, 512, num_blocks[3], 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.pool(x)
        x = x.reshape(x.size(0), -1)
        return self.fc(x)


def resnet18(num_classes=10):
    return ResNet(BasicBlock, RESNET18_BLOCKS, num_classes)
