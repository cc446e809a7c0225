import torch
import torch.nn as nn

RESNET18_BLOCKS = [2, 2, 2, 2]
STAGE_CHANNELS = [64, 128, 256, 512]
STAGE_STRIDES = [1, 2, 2, 2]


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        needs_projection = stride != 1 or in_channels != out_channels * self.expansion
        self.shortcut = (nn.Sequential(nn.Conv2d(in_channels, out_channels * self.expansion, 1, stride=stride, bias=False),
                                       nn.BatchNorm2d(out_channels * self.expansion))
                         if needs_projection else nn.Identity())

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + self.shortcut(x)
        return torch.relu(out)


class ResNet(nn.Module):
    """CIFAR ResNet-18 built directly, stages from a comprehension."""

    def __init__(self, block=BasicBlock, num_blocks=RESNET18_BLOCKS, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        ins = [64] + STAGE_CHANNELS[:-1]
        stages = [
            nn.Sequential(*[block(c_in if i == 0 else c_out, c_out, s if i == 0 else 1) for i in range(n)])
            for c_in, c_out, s, n in zip(ins, STAGE_CHANNELS, STAGE_STRIDES, num_blocks)
        ]
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.fc = nn.Linear(STAGE_CHANNELS[-1], num_classes)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
        x = x.mean(dim=(2, 3))          # global average pool
        return self.fc(x)


def resnet18(num_classes=10):
    return ResNet(num_classes=num_classes)
